// GET/POST/DELETE /v1/keys: an admin lists, creates (201, the secret once) and revokes its tenant's
// keys; other roles get 403; another tenant's key is 404 like an unknown one; a key never grants or
// revokes more than it holds; a created key works at once, a revoked one stops at once.
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, harness, type Harness } from '../../../test/server/keys-harness.ts';

let h: Harness | undefined;
afterEach(async () => { await h?.close(); h = undefined; });

describe('/v1/keys', () => {
  it('creates a key of the caller\'s tenant, shows its secret once, lists it without it, and revokes it', async () => {
    h = await harness();
    const admin = await h.key('acme', { '*': 'admin' }, 'root');
    const app = h.server.app;
    const made = await app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(admin), payload: { roles: { echo: 'operator' }, name: 'ci' } });
    expect(made.statusCode).toBe(201);
    const k = made.json();
    expect(k).toEqual({ keyId: expect.any(String), tenant: 'acme', roles: { echo: 'operator' }, name: 'ci', createdAt: expect.any(Number), secret: expect.stringMatching(/^llmo_/) });
    expect(await h.keys.verify(k.secret)).toMatchObject({ keyId: k.keyId, tenant: 'acme' });
    const listed = await app.inject({ url: '/v1/keys', headers: bearer(admin) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().keys.map((x: { keyId: string }) => x.keyId)).toContain(k.keyId);
    expect(listed.body).not.toContain(k.secret);
    const gone = await app.inject({ method: 'DELETE', url: `/v1/keys/${k.keyId}`, headers: bearer(admin) });
    expect(gone.statusCode).toBe(200);
    expect(gone.json()).toEqual({ keyId: k.keyId, revoked: true });
    expect((await app.inject({ url: '/v1/keys', headers: bearer(k.secret) })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/keys', headers: bearer(admin) })).json().keys.find((x: { keyId: string }) => x.keyId === k.keyId).revokedAt).toEqual(expect.any(Number));
  });

  it('lists only the caller\'s tenant, and answers 404 for another tenant\'s key like an unknown one', async () => {
    h = await harness();
    const acme = await h.key('acme', { '*': 'admin' });
    const globex = await h.keys.create({ tenant: 'globex', roles: { '*': 'admin' } });
    const list = (await h.server.app.inject({ url: '/v1/keys', headers: bearer(acme) })).json();
    expect(list.keys.every((k: { tenant: string }) => k.tenant === 'acme')).toBe(true);
    const theirs = await h.server.app.inject({ method: 'DELETE', url: `/v1/keys/${globex.keyId}`, headers: bearer(acme) });
    const unknown = await h.server.app.inject({ method: 'DELETE', url: '/v1/keys/k_nothing', headers: bearer(acme) });
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toEqual({ error: { code: 'KEY_NOT_FOUND', message: `no key '${globex.keyId}'` } });
    expect(unknown.json()).toEqual({ error: { code: 'KEY_NOT_FOUND', message: "no key 'k_nothing'" } });
    expect(await h.keys.verify(globex.secret)).toBeDefined();
  });

  it('answers 403 to viewers and operators', async () => {
    h = await harness();
    for (const role of ['viewer', 'operator'] as const) {
      const k = await h.key('acme', { '*': role });
      for (const r of [
        await h.server.app.inject({ url: '/v1/keys', headers: bearer(k) }),
        await h.server.app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(k), payload: { roles: { '*': 'viewer' } } }),
        await h.server.app.inject({ method: 'DELETE', url: '/v1/keys/k_x', headers: bearer(k) }),
      ]) {
        expect(r.statusCode).toBe(403);
        expect(r.json().error.code).toBe('FORBIDDEN');
      }
    }
  });

  it('refuses another tenant, roles beyond the caller\'s and revoking a stronger key, naming the field', async () => {
    h = await harness();
    const ragAdmin = await h.key('acme', { echo: 'admin' });
    const root = await h.keys.create({ tenant: 'acme', roles: { '*': 'admin' } });
    const app = h.server.app;
    const tenant = await app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(ragAdmin), payload: { tenant: 'globex', roles: { echo: 'viewer' } } });
    expect(tenant.statusCode).toBe(403);
    expect(tenant.json().error.issues).toEqual([expect.objectContaining({ path: ['body', 'tenant'] })]);
    const wider = await app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(ragAdmin), payload: { roles: { '*': 'admin' } } });
    expect(wider.statusCode).toBe(403);
    expect(wider.json().error.issues).toEqual([expect.objectContaining({ path: ['body', 'roles', '*'] })]);
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/keys/${root.keyId}`, headers: bearer(ragAdmin) });
    expect(revoke.statusCode).toBe(403);
    expect(await h.keys.verify(root.secret)).toBeDefined();
    const same = await app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(ragAdmin), payload: { tenant: 'acme', roles: { echo: 'operator' } } });
    expect(same.statusCode).toBe(201);
  });

  it('documents the routes with their schemas in the OpenAPI document', async () => {
    h = await harness();
    const doc = h.server.app.swagger() as unknown as { paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.paths['/v1/keys']?.post?.operationId).toBe('createKey');
    expect(Object.keys(doc.paths['/v1/keys']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '401', '403']));
    expect(doc.paths['/v1/keys/{keyId}']?.delete?.operationId).toBe('revokeKey');
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['ApiKey', 'CreatedApiKey', 'NewApiKey']));
  });
});
