import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { isStoreError, isTopologyError } from '../../src/errors.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { topologyVersion, topologyVersions } from '../../src/runtime/version.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { parseTopology } from '../../src/documents/load.ts';
import { createRegistry } from '../../src/documents/registry.ts';
import { crashingStore, until } from './helpers.ts';

/** An owner on another host: never judged dead, its runs are taken only when their lease expired. */
const A = 'elsewhere:1:a';
const FAR = 3_600_000;
const Approval = z.object({ approved: z.boolean(), by: z.string() });

type Options = { version?: string; resumes?: string[]; publish?: 'shipped'; review?: boolean };

/** The approval flow; `publish` changes the last node's code, `review` adds a node before the wait. */
function flow(calls: string[], o: Options = {}) {
  const opts = { input: z.object({ topic: z.string() }), ...(o.version === undefined ? {} : { version: o.version }), ...(o.resumes === undefined ? {} : { resumes: o.resumes }) };
  const base = topology('approval', opts).map('draft', { run: ({ input }) => { calls.push('draft'); return `Draft about ${input.topic}`; } });
  const before = o.review === true ? base.map('review', { after: ['draft'], run: ({ deps }) => { calls.push('review'); return deps.draft.length; } }) : base;
  // two texts of the function (a version hashes the source text, not the values it captures)
  const publish = o.publish === 'shipped'
    ? ({ deps }: { deps: { draft: string; approve: z.output<typeof Approval> } }) => { calls.push('publish:shipped'); return `shipped: ${deps.draft} (${deps.approve.by})`; }
    : ({ deps }: { deps: { draft: string; approve: z.output<typeof Approval> } }) => { calls.push('publish:published'); return `published: ${deps.draft} (${deps.approve.by})`; };
  return before
    .wait('approve', { after: ['draft'], name: 'approval', schema: Approval })
    .map('publish', { after: ['draft', 'approve'], run: publish })
    .build({ output: 'publish' });
}

/** A three-step chain that a crash interrupts after `limit` stored events. */
function chain(calls: string[], o: { version?: string; resumes?: string[]; last?: string } = {}) {
  const last = o.last ?? 'c';
  return topology('chain', { ...(o.version === undefined ? {} : { version: o.version }), ...(o.resumes === undefined ? {} : { resumes: o.resumes }) })
    .map('a', { run: () => { calls.push('a'); return 1; } })
    .map('b', { after: ['a'], run: ({ deps }) => { calls.push('b'); return deps.a + 1; } })
    .map(last, { after: ['b'], run: ({ deps }) => { calls.push(last); return deps.b * 10; } })
    .build({ output: last });
}

/** Runs `t` on a store that dies after node a's completion: a, then b started, nothing more stored. */
async function crashAfterA(t: ReturnType<typeof chain>, runId: string) {
  const base = createMemoryStore();
  const crashed = crashingStore(base, 4); // run.started, node.started a, node.completed a, node.started b
  const e1 = createEngine({ store: crashed, durable: { owner: A } });
  void e1.run(t, undefined, { runId });
  await until(() => crashed.crashed);
  return base;
}

describe('topology versions of your own (version) and versions a definition resumes (resumes)', () => {
  it('records a version of your own; the computed hashes stay among its versions and are not changed by resumes', () => {
    const calls: string[] = [];
    const plain = flow(calls);
    const pinned = flow(calls, { version: '2026-11' });
    const resuming = flow(calls, { resumes: ['2026-10', 'v2:abc'] });
    expect(topologyVersion(plain)).toMatch(/^v2:/);
    expect(topologyVersion(pinned)).toBe('2026-11');
    expect(topologyVersions(pinned)).toEqual(['2026-11', ...topologyVersions(plain)]);
    expect(topologyVersion(resuming)).toBe(topologyVersion(plain));
    expect(topologyVersions(resuming)).toEqual([...topologyVersions(plain), '2026-10', 'v2:abc']);
  });

  it('a sub-topology with a version of its own counts in its parent by that version', () => {
    const child = (n: number, version?: string) => topology('child', version === undefined ? {} : { version }).map('x', { run: n === 1 ? () => 1 : () => 2 }).build({ output: 'x' });
    const parent = (c: ReturnType<typeof child>) => topology('parent').sub('s', { topology: c, input: () => undefined }).build({ output: 's' });
    expect(topologyVersion(parent(child(1, 'c1')))).toBe(topologyVersion(parent(child(2, 'c1'))));
    expect(topologyVersion(parent(child(1)))).not.toBe(topologyVersion(parent(child(2))));
  });

  it('refuses malformed versions, naming the field', () => {
    const calls: string[] = [];
    const bad = (o: Options) => { try { flow(calls, o); return undefined; } catch (e) { return e; } };
    const a = bad({ version: 'two words' });
    expect(isTopologyError(a) && a.issues.map((i) => i.path)).toEqual([['version']]);
    const b = bad({ resumes: ['ok', ''] });
    expect(isTopologyError(b) && b.issues.map((i) => i.path)).toEqual([['resumes', 1]]);
    expect(bad({ version: 'x'.repeat(201) })).toMatchObject({ issues: [{ path: ['version'] }] });
  });

  it('one engine refuses two different definitions under one version of your own, and takes the same one built twice', async () => {
    const calls: string[] = [];
    const engine = createEngine({ topologies: [chain(calls, { version: '7' })] });
    engine.compile(chain(calls, { version: '7' })); // the same definition, another object
    let error: unknown;
    try { engine.compile(chain(calls, { version: '7', last: 'd' })); } catch (e) { error = e; }
    expect(isTopologyError(error) && error.issues).toMatchObject([{ code: 'version_taken', path: ['version'] }]);
    engine.compile(chain(calls, { version: '8', last: 'd' }));
    await engine.shutdown();
  });

  it('recovers a run under a changed definition that keeps the version of your own it was recorded under', async () => {
    const calls: string[] = [];
    const base = await crashAfterA(chain(calls, { version: 'orders-3' }), 'p1');
    expect((await base.getRun('p1'))?.version).toBe('orders-3');
    calls.length = 0;
    // the new build changed node c's code but not its version: the run resumes under it
    const changed = topology('chain', { version: 'orders-3' })
      .map('a', { run: () => { calls.push('a'); return 1; } })
      .map('b', { after: ['a'], run: ({ deps }) => { calls.push('b'); return deps.a + 1; } })
      .map('c', { after: ['b'], run: ({ deps }) => { calls.push('c2'); return deps.b * 100; } })
      .build({ output: 'c' });
    const e2 = createEngine({ store: base, topologies: [changed], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    expect(report.resumed).toEqual(['p1']);
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r).toMatchObject({ status: 'completed', output: 200 });
    expect(calls).toEqual(['b', 'c2']); // a was replayed from the log
    await e2.shutdown();
  });

  it('recovers a run recorded under another hash with a definition that lists it in resumes; the recorded definition, when registered, goes first', async () => {
    const calls: string[] = [];
    const old = chain(calls);
    const base = await crashAfterA(old, 'h1');
    const recorded = (await base.getRun('h1'))!.version;
    expect(recorded).toBe(topologyVersion(old));
    calls.length = 0;
    const next = chain(calls, { resumes: [recorded] });
    // both registered: the run resumes under the definition it was recorded with
    const both = createEngine({ store: base, topologies: [next, chain(calls, { last: 'c' })], durable: { owner: 'x:1:x', now: () => Date.now() + FAR } });
    expect(topologyVersion(next)).toBe(recorded); // (here the same code: the same hash)
    await both.shutdown();
    // a changed definition that resumes the recorded version takes it
    const changed = topology('chain', { resumes: [recorded] })
      .map('a', { run: () => { calls.push('a'); return 1; } })
      .map('b', { after: ['a'], run: ({ deps }) => { calls.push('b2'); return deps.a + 2; } })
      .map('c', { after: ['b'], run: ({ deps }) => { calls.push('c2'); return deps.b; } })
      .build({ output: 'c' });
    expect(topologyVersion(changed)).not.toBe(recorded);
    const e2 = createEngine({ store: base, topologies: [changed], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    expect(report.resumed).toEqual(['h1']);
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r).toMatchObject({ status: 'completed', output: 3 });
    expect(calls).toEqual(['b2', 'c2']);
    expect((await base.getRun('h1'))?.version).toBe(recorded); // the record keeps the version it started under
    await e2.shutdown();
  });

  it('the recorded definition goes before one that resumes its version', async () => {
    const calls: string[] = [];
    const base = await crashAfterA(chain(calls), 'h2');
    const recorded = (await base.getRun('h2'))!.version;
    calls.length = 0;
    const changed = topology('chain', { resumes: [recorded] })
      .map('a', { run: () => 1 })
      .map('b', { after: ['a'], run: () => { calls.push('b-new'); return 0; } })
      .map('c', { after: ['b'], run: () => { calls.push('c-new'); return 0; } })
      .build({ output: 'c' });
    const e2 = createEngine({ store: base, topologies: [changed, chain(calls)], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r).toMatchObject({ status: 'completed', output: 20 });
    expect(calls).toEqual(['b', 'c']);
    await e2.shutdown();
  });

  it('fails with TOPOLOGY_CHANGED, naming the node, a run whose log has a node the resuming definition lacks', async () => {
    const calls: string[] = [];
    const base = await crashAfterA(chain(calls, { version: 'orders-3' }), 'n1');
    // node a (completed before the crash) was renamed; the version was kept by mistake
    const renamed = topology('chain', { version: 'orders-3' })
      .map('first', { run: () => 1 })
      .map('b', { after: ['first'], run: ({ deps }) => deps.first })
      .map('c', { after: ['b'], run: ({ deps }) => deps.b })
      .build({ output: 'c' });
    const e2 = createEngine({ store: base, topologies: [renamed], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    expect(report.resumed).toEqual([]);
    expect(report.failed.map((f) => f.error.code)).toEqual(['TOPOLOGY_CHANGED']);
    expect(report.failed[0]!.error.message).toContain("node 'a'");
    expect(report.failed[0]!.error.message).toContain('orders-3');
    expect((await base.getRun('n1'))?.status).toBe('failed');
    await e2.shutdown();
  });

  it('a parked run resumes on a signal under a definition that resumes its version, and is refused, still parked, by one that dropped a node it got to', async () => {
    const calls: string[] = [];
    const store = createMemoryStore();
    const v1 = flow(calls);
    const e1 = createEngine({ store, topologies: [v1] });
    expect((await e1.run(v1, { topic: 'rxjs' }, { runId: 'w1' })).status).toBe('waiting');
    expect((await e1.run(v1, { topic: 'zod' }, { runId: 'w2' })).status).toBe('waiting');
    await e1.shutdown();
    const recorded = topologyVersion(v1);

    // a deploy changed publish's code: without resumes the parked runs are stranded
    const stranded = createEngine({ store, topologies: [flow(calls, { publish: 'shipped' })] });
    await expect(stranded.signal('w1', 'approval', { approved: true, by: 'ana' })).rejects.toMatchObject({ code: 'TOPOLOGY_CHANGED' });
    await stranded.shutdown();

    calls.length = 0;
    const e2 = createEngine({ store, topologies: [flow(calls, { publish: 'shipped', resumes: [recorded] })] });
    const done = await (await e2.signal('w1', 'approval', { approved: true, by: 'ana' })).result!;
    expect(done).toMatchObject({ status: 'completed', output: 'shipped: Draft about rxjs (ana)' });
    expect(calls).toEqual(['publish:shipped']);
    await e2.shutdown();

    // a definition without the wait node the run parked on
    const noWait = topology('approval', { input: z.object({ topic: z.string() }), resumes: [recorded] })
      .map('draft', { run: ({ input }) => input.topic })
      .map('publish', { after: ['draft'], run: ({ deps }) => deps.draft })
      .build({ output: 'publish' });
    const e3 = createEngine({ store, topologies: [noWait] });
    const refused = await e3.signal('w2', 'approval', { approved: true, by: 'bo' }).catch((e: unknown) => e);
    expect(isStoreError(refused) && refused.code).toBe('TOPOLOGY_CHANGED');
    expect((refused as Error).message).toContain("node 'approve'");
    const rec = await store.getRun('w2');
    expect(rec?.status).toBe('waiting');
    expect((await store.history('w2')).some((e) => e.type === 'run.signalled')).toBe(false);
    await e3.shutdown();
  });

  it('forks a run under a definition that resumes its version', async () => {
    const calls: string[] = [];
    const store = createMemoryStore();
    const old = chain(calls);
    const e1 = createEngine({ store });
    await e1.run(old, undefined, { runId: 'f0' });
    await e1.shutdown();
    calls.length = 0;
    const next = topology('chain', { resumes: [topologyVersion(old)] })
      .map('a', { run: () => { calls.push('a'); return 1; } })
      .map('b', { after: ['a'], run: ({ deps }) => { calls.push('b'); return deps.a + 1; } })
      .map('c', { after: ['b'], run: ({ deps }) => { calls.push('c3'); return deps.b * 1000; } })
      .build({ output: 'c' });
    const e2 = createEngine({ store, topologies: [next] });
    const r = await e2.fork('f0', { from: 'c', runId: 'f1' });
    expect(r).toMatchObject({ status: 'completed', output: 2000 });
    expect(calls).toEqual(['c3']);
    await e2.shutdown();
  });

  it('JSON and YAML documents take version and resumes', async () => {
    const registry = createRegistry().map('one', () => 1);
    const r = parseTopology({ name: 'doc', version: 'd-1', resumes: ['d-0'], nodes: [{ id: 'a', kind: 'map', op: 'one' }] }, registry);
    expect(r.ok && [topologyVersion(r.topology), topologyVersions(r.topology).at(-1)]).toEqual(['d-1', 'd-0']);
    const bad = parseTopology({ name: 'doc', version: '', nodes: [{ id: 'a', kind: 'map', op: 'one' }] }, registry);
    expect(!bad.ok && bad.issues.map((i) => i.path)).toEqual([['version']]);
  });
});
