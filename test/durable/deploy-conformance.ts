/**
 * What a deploy and an operator do to stored runs, checked on any run store: a parked run
 * resumed by a changed definition that `resumes` its version, a parked run cancelled from
 * another engine, and a run a dead process left running cancelled. The memory and SQLite
 * stores run it as unit tests, PostgreSQL in test/stores/postgres-durable.int.test.ts.
 * @module
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import type { RunStore } from '../../src/runtime/store.ts';
import { topologyVersion } from '../../src/runtime/version.ts';
import { crashingStore, until } from './helpers.ts';

const FAR = 3_600_000;
const Approval = z.object({ approved: z.boolean() });

function approval(calls: string[], next = false, resumes?: string) {
  const t = topology('approval', { input: z.object({ topic: z.string() }), ...(resumes === undefined ? {} : { resumes: [resumes] }) })
    .map('draft', { run: ({ input }) => { calls.push('draft'); return `Draft about ${input.topic}`; } })
    .wait('approve', { after: ['draft'], name: 'approval', schema: Approval });
  return next
    ? t.map('publish', { after: ['draft', 'approve'], run: ({ deps }) => { calls.push('publish-next'); return deps.draft.toUpperCase(); } }).build({ output: 'publish' })
    : t.map('publish', { after: ['draft', 'approve'], run: ({ deps }) => { calls.push('publish'); return deps.draft; } }).build({ output: 'publish' });
}

/**
 * Declares the deploy and cancel checks against stores `open` makes (a fresh, empty one per call).
 *
 * @example
 * ```ts
 * describeDeployAndCancel('memory', async () => createMemoryStore());
 * ```
 */
export function describeDeployAndCancel(name: string, open: () => Promise<RunStore>): void {
  describe(`deploys and cancellation on ${name}`, () => {
    it('a parked run resumes under a changed definition that lists its version in resumes', async () => {
      const store = await open();
      const calls: string[] = [];
      const v1 = approval(calls);
      const e1 = createEngine({ store, topologies: [v1] });
      expect((await e1.run(v1, { topic: 'rxjs' }, { runId: 'd-1' })).status).toBe('waiting');
      await e1.shutdown();
      const e2 = createEngine({ store, topologies: [approval(calls, true, topologyVersion(v1))] });
      const r = await (await e2.signal('d-1', 'approval', { approved: true })).result!;
      expect(r).toMatchObject({ status: 'completed', output: 'DRAFT ABOUT RXJS' });
      expect(calls).toEqual(['draft', 'publish-next']);
      expect((await store.getRun('d-1'))?.version).toBe(topologyVersion(v1));
      await e2.shutdown();
      await store.close();
    });

    it('a parked run is cancelled from another engine, and stays cancelled', async () => {
      const store = await open();
      const calls: string[] = [];
      const e1 = createEngine({ store, topologies: [approval(calls)] });
      await e1.run(approval(calls), { topic: 'zod' }, { runId: 'c-1' });
      await e1.shutdown();
      const e2 = createEngine({ store, topologies: [approval(calls)] });
      const r = await (await e2.cancel('c-1', { reason: 'withdrawn' })).result!;
      expect(r).toMatchObject({ status: 'cancelled', error: { message: 'run cancelled: withdrawn' } });
      const rec = await store.getRun('c-1');
      expect(rec).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED', message: 'run cancelled: withdrawn' } });
      expect(rec?.leaseOwner).toBeUndefined();
      expect((await store.history('c-1')).map((e) => e.type).slice(-2)).toEqual(['run.signalled', 'run.cancelled']);
      expect(await e2.recover({ wake: true })).toMatchObject({ resumed: [] });
      expect(calls).toEqual(['draft']);
      await e2.shutdown();
      await store.close();
    });

    it('a run another live engine holds is cancelled there at its next lease renewal', async () => {
      const store = await open();
      const calls: string[] = [];
      const slow = topology('slow')
        .map('a', { run: () => { calls.push('a'); return 1; } })
        .map('b', { after: ['a'], run: ({ signal }) => new Promise<number>((_, reject) => { calls.push('b'); signal.addEventListener('abort', () => reject(signal.reason)); }) })
        .build({ output: 'b' });
      const holder = createEngine({ store, durable: { owner: 'elsewhere:2:h', leaseMs: 90 } });
      const pending = holder.run(slow, undefined, { runId: 'h-1' });
      await until(async () => calls.includes('b') && (await store.getRun('h-1'))?.status === 'running');
      const other = createEngine({ store, topologies: [slow] });
      expect(await other.cancel('h-1', { reason: 'runaway' })).toEqual({ runId: 'h-1', requestedOf: 'elsewhere:2:h' });
      expect(await pending).toMatchObject({ status: 'cancelled', error: { message: 'run cancelled: runaway' } });
      await until(async () => (await store.getRun('h-1'))?.status === 'cancelled');
      expect(await store.cancelRequests!(['h-1'])).toEqual([expect.objectContaining({ runId: 'h-1', reason: 'runaway' })]);
      await Promise.all([holder.shutdown(), other.shutdown()]);
      await store.close();
    });

    it('a run a dead process left running is cancelled once its lease expired, none of its nodes run again', async () => {
      const store = await open();
      const calls: string[] = [];
      const slow = topology('slow')
        .map('a', { run: () => { calls.push('a'); return 1; } })
        .map('b', { after: ['a'], run: () => new Promise<number>(() => { calls.push('b'); }) })
        .build({ output: 'b' });
      const crashed = crashingStore(store, 3);
      const e1 = createEngine({ store: crashed, durable: { owner: 'elsewhere:1:a' } });
      void e1.run(slow, undefined, { runId: 'k-1' });
      await until(() => crashed.crashed);
      calls.length = 0;
      const e2 = createEngine({ store, topologies: [slow], durable: { now: () => Date.now() + FAR } });
      const r = await (await e2.cancel('k-1')).result!;
      expect(r.status).toBe('cancelled');
      expect((await store.getRun('k-1'))?.status).toBe('cancelled');
      expect(calls).toEqual([]);
      await e2.shutdown();
      await store.close();
    });
  });
}
