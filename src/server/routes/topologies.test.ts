import { afterEach, describe, expect, it } from 'vitest';
import { topologyVersion } from '../../runtime/version.ts';
import { createGate, createHarness, harnessTopologies, type Harness } from '../../../test/support/server-harness.ts';

describe('/v1/me and /v1/topologies', () => {
  let h: Harness;
  afterEach(async () => { await h.close(); });

  it('/v1/me names the caller: key id, tenant, roles, name', async () => {
    h = await createHarness();
    const r = await h.call('narrow', 'GET', '/v1/me');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ keyId: expect.stringMatching(/^k_/), tenant: 'acme', roles: { echo: 'operator' }, name: 'narrow' });
  });

  it('lists only the topologies the key has a role on, each with its compiled graph and version', async () => {
    h = await createHarness();
    const all = await h.call('viewer', 'GET', '/v1/topologies');
    expect((all.body as { topologies: { name: string }[] }).topologies.map((t) => t.name)).toEqual(['echo', 'slow', 'approval', 'secret', 'chat']);
    const narrow = await h.call('narrow', 'GET', '/v1/topologies');
    expect((narrow.body as { topologies: { name: string }[] }).topologies.map((t) => t.name)).toEqual(['echo']);
    const echo = await h.call('narrow', 'GET', '/v1/topologies/echo');
    expect(echo).toMatchObject({
      status: 200,
      body: {
        name: 'echo', description: 'upper-cases text', version: topologyVersion(harnessTopologies(createGate())[0]!),
        nodes: [{ id: 'up', kind: 'map', after: [] }, { id: 'out', kind: 'map', after: ['up'] }],
        edges: [{ from: 'up', to: 'out', gate: 'always' }],
      },
    });
    const approval = await h.call('viewer', 'GET', '/v1/topologies/approval');
    expect((approval.body as { nodes: { id: string; kind: string }[] }).nodes.map((n) => n.kind)).toEqual(['map', 'wait', 'map']);
    // a topology the key has no role on is 404, exactly as an unknown one
    expect(await h.call('narrow', 'GET', '/v1/topologies/secret')).toMatchObject({ status: 404, body: { error: { code: 'TOPOLOGY_NOT_FOUND', message: "no topology 'secret' is served here" } } });
  });

  it('says what a topology takes: the JSON Schema of its input, and of each wait node\'s signal payload', async () => {
    h = await createHarness();
    const echo = await h.call('viewer', 'GET', '/v1/topologies/echo');
    expect((echo.body as { input: unknown }).input).toEqual({ type: 'object', properties: { text: { type: 'string' } }, required: ['text'] });
    const approval = await h.call('viewer', 'GET', '/v1/topologies/approval');
    const nodes = (approval.body as { nodes: { id: string; signal?: unknown }[] }).nodes;
    expect(nodes.find((n) => n.id === 'approve')!.signal).toEqual({
      name: 'approval', payload: { type: 'object', properties: { approved: { type: 'boolean' } }, required: ['approved'] },
    });
    expect(nodes.filter((n) => n.signal !== undefined).map((n) => n.id)).toEqual(['approve']);
  });
});
