// `llmo keys create|list|revoke` through main (so the commands are registered as documented): the
// secret printed once on stdout with a note on stderr, keys listed without secrets, a revoked key
// refused by a key store reading the same file, bad usage exit 2 naming the flag, unknown keys exit 1.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { createFileKeyStore } from '../server/keys/file.ts';
import { keysCommand, keysUrl } from './commands/keys.ts';
import { EXIT } from './exit.ts';
import { main } from './main.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

let file = '';
beforeEach(async () => { file = join(await mkdtemp(join(tmpdir(), 'llmo-keys-cli-')), 'keys.json'); });

describe('llmo keys', () => {
  it('creates a key, printing its secret once on stdout and a note on stderr; the key verifies', async () => {
    const c = capture();
    expect(await main(['keys', 'create', '--tenant', 'acme', '--role', 'operator', '--topology', 'rag', '--topology', 'sum*', '--name', 'ci', '--keys', file], c.io)).toBe(EXIT.ok);
    const secret = c.out().trim();
    expect(secret).toMatch(/^llmo_[A-Za-z0-9_-]{43}$/);
    expect(c.err()).toMatch(/created key k_\w+ of tenant acme \(operator on rag, operator on sum\*\).*shown once/);
    expect(await readFile(file, 'utf8')).not.toContain(secret);
    const p = await createFileKeyStore(file).verify(secret);
    expect(p).toEqual({ keyId: expect.any(String), tenant: 'acme', roles: { rag: 'operator', 'sum*': 'operator' }, name: 'ci' });
  });

  it('lists keys as a table or JSON lines, by tenant, never with secrets', async () => {
    const made = capture();
    await main(['keys', 'create', '--tenant', 'acme', '--role', 'admin', '--keys', file], made.io);
    await main(['keys', 'create', '--tenant', 'globex', '--role', 'viewer', '--topology', 'rag,sum', '--keys', file], made.io);
    const table = capture();
    expect(await main(['keys', 'list', '--keys', file], table.io)).toBe(EXIT.ok);
    expect(table.out()).toMatch(/^KEY\s+TENANT\s+ROLES\s+NAME\s+CREATED\s+REVOKED\n/);
    expect(table.out()).toContain('*=admin');
    expect(table.out()).toContain('rag=viewer,sum=viewer');
    const json = capture();
    expect(await main(['keys', 'list', '--tenant', 'globex', '--json', '--keys', file], json.io)).toBe(EXIT.ok);
    const lines = json.out().trim().split('\n').map((l) => JSON.parse(l) as { tenant: string });
    expect(lines).toEqual([expect.objectContaining({ tenant: 'globex', roles: { rag: 'viewer', sum: 'viewer' } })]);
    for (const s of made.out().trim().split('\n')) expect(table.out() + json.out()).not.toContain(s);
  });

  it('revokes a key: a store reading the same file refuses it at once; an unknown key exits 1', async () => {
    const server = createFileKeyStore(file);
    const made = capture();
    await main(['keys', 'create', '--tenant', 'acme', '--role', 'viewer', '--json', '--keys', file], made.io);
    const created = JSON.parse(made.out()) as { keyId: string; secret: string };
    expect(await server.verify(created.secret)).toBeDefined();
    const r = capture();
    expect(await main(['keys', 'revoke', created.keyId, '--keys', file], r.io)).toBe(EXIT.ok);
    expect(r.out()).toBe(`revoked ${created.keyId}\n`);
    expect(await server.verify(created.secret)).toBeUndefined();
    const other = capture();
    expect(await main(['keys', 'revoke', created.keyId, '--tenant', 'globex', '--keys', file], other.io)).toBe(EXIT.runFailed);
    const unknown = capture();
    expect(await main(['keys', 'revoke', 'k_nothing', '--keys', file], unknown.io)).toBe(EXIT.runFailed);
    expect(unknown.err()).toContain("no key 'k_nothing'");
  });

  it('exits 2 naming the flag for bad usage', async () => {
    const role = capture();
    expect(await main(['keys', 'create', '--tenant', 'acme', '--role', 'root', '--keys', file], role.io)).toBe(EXIT.invalid);
    expect(role.err()).toContain('--role');
    const tenant = capture();
    expect(await main(['keys', 'create', '--role', 'viewer', '--keys', file], tenant.io)).toBe(EXIT.invalid);
    expect(tenant.err()).toContain('--tenant');
    const spaced = capture();
    expect(await keysCommand('create', undefined, { tenant: 'a b', role: 'viewer', keys: file }, spaced.io)).toBe(EXIT.invalid);
    expect(spaced.err()).toContain('--tenant');
    expect(spaced.out()).toBe('');
    const url = capture();
    expect(await main(['keys', 'list', '--keys', 'redis://x'], url.io)).toBe(EXIT.invalid);
    expect(url.err()).toContain('--keys redis://x');
  });

  it('exits 1 when the key file cannot be read', async () => {
    await writeFile(file, 'not json');
    const c = capture();
    expect(await main(['keys', 'list', '--keys', file], c.io)).toBe(EXIT.runFailed);
    expect(c.err()).toContain(file);
  });

  it('finds the store in --keys, then LLMO_KEYS, then .llmo/keys.json', () => {
    expect(keysUrl('a.json', { ...capture().io, env: { LLMO_KEYS: 'b.json' } })).toBe('a.json');
    expect(keysUrl(undefined, { ...capture().io, env: { LLMO_KEYS: 'b.json' } })).toBe('b.json');
    expect(keysUrl(undefined, capture().io)).toBe('.llmo/keys.json');
  });
});
