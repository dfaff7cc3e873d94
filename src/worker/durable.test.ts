import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../index.ts';
import type { Engine } from '../runtime/engine.ts';
import type { RunStore } from '../runtime/store.ts';
import { createMemoryStore } from '../stores/memory.ts';
import { createMemoryTransport } from '../transports/index.ts';
import type { RunResultMessage, TokenBatchMessage } from '../transports/messages.ts';
import { createClient, createWorker, type WorkerOptions } from './index.ts';

/** A three-node chain whose last node waits at a gate; counts every node call by `runId nodeId`. */
function chain() {
  const calls = new Map<string, number>();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const count = (runId: string, nodeId: string): void => {
    const k = `${runId} ${nodeId}`;
    calls.set(k, (calls.get(k) ?? 0) + 1);
  };
  const t = topology('chain', { input: z.object({ n: z.number() }) })
    .map('a', { run: ({ input, runId, nodeId }) => { count(runId, nodeId); return input.n + 1; } })
    .map('b', { after: ['a'], run: ({ deps, runId, nodeId }) => { count(runId, nodeId); return (deps.a as number) * 10; } })
    .map('c', { after: ['b'], run: async ({ deps, runId, nodeId }) => { count(runId, nodeId); await gate; return `c${String(deps.b)}`; } })
    .build({ output: 'c' });
  return { t, calls, open, callsOf: (runId: string) => ['a', 'b', 'c'].map((n) => calls.get(`${runId} ${n}`) ?? 0) };
}

const until = async (what: string, ok: () => boolean | Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
};

const completedIn = async (store: RunStore, runId: string, nodeId: string): Promise<boolean> =>
  (await store.getRun(runId)) !== undefined && (await store.history(runId)).some((e) => e.type === 'node.completed' && e.nodeId === nodeId);

/** A worker on its own engine (owner `owner`) over the memory transport, sharing `store`. */
async function serve(store: RunStore, t: ReturnType<typeof chain>['t'], owner: string, extra: Partial<WorkerOptions> = {}) {
  const transport = createMemoryTransport();
  const engine = createEngine({ store, topologies: [t], durable: { owner, leaseMs: 60_000 } });
  const worker = createWorker({ engine, transport, topologies: [t], inbound: false, lingerMs: 0, ...extra });
  await worker.start();
  const client = createClient(transport);
  return {
    engine, worker, transport, client,
    close: async () => {
      await client.close();
      await worker.stop();
      await engine.shutdown({ mode: 'cancel' });
      await transport.close();
    },
  };
}

/** Starts run `runId` on an engine that then "dies" mid-run (shut down with its run left to be recovered). */
async function dieMidRun(store: RunStore, c: ReturnType<typeof chain>, runId: string): Promise<Engine> {
  const dead = createEngine({ store, topologies: [c.t], durable: { owner: 'dead-process', leaseMs: 60_000 } });
  void dead.run(c.t, { n: 4 }, { runId });
  await until('a and b recorded completed, c running', async () => (await completedIn(store, runId, 'b')) && c.callsOf(runId)[2] === 1);
  await dead.shutdown({ mode: 'cancel' }); // leaves the run to be recovered: not recorded cancelled, lease released
  return dead;
}

describe('a worker with a run store: a redelivered request', () => {
  it('whose run was left mid-run by a dead process is resumed from the store: completed nodes are not run again', async () => {
    const store = createMemoryStore();
    const c = chain();
    await dieMidRun(store, c, 'req-1');
    expect(c.callsOf('req-1')).toEqual([1, 1, 1]);
    expect((await store.getRun('req-1'))?.status).toBe('running');
    c.open();
    const w = await serve(store, c.t, 'worker-b');
    try {
      const r = await w.client.submit('chain', { n: 4 }, { requestId: 'req-1' });
      expect(r.status, r.error ?? '').toBe('completed');
      expect(r.runId).toBe('req-1');
      expect(JSON.parse(r.output!)).toBe('c50');
      expect(JSON.parse(r.outputs)).toEqual({ a: 5, b: 50, c: 'c50' });
      expect(c.callsOf('req-1')).toEqual([1, 1, 2]); // only the node that was running at the "crash" ran again
      const history = await store.history('req-1');
      expect(history.filter((e) => e.type === 'node.completed').map((e) => e.nodeId)).toEqual(['a', 'b', 'c']);
      expect(history.filter((e) => e.type === 'node.resumed').map((e) => e.nodeId).sort()).toEqual(['a', 'b']);
      expect((await store.getRun('req-1'))?.status).toBe('completed');
    } finally {
      await w.close();
    }
  });

  it('whose run already ended gets the stored result again, identical, with nothing run and an end marker before it', async () => {
    const store = createMemoryStore();
    const c = chain();
    c.open();
    const w = await serve(store, c.t, 'worker-b');
    try {
      const first = await w.client.submit('chain', { n: 1 }, { requestId: 'req-2' });
      expect(first.status).toBe('completed');
      expect(c.callsOf('req-2')).toEqual([1, 1, 1]);
      const markers: TokenBatchMessage[] = [];
      const sub = w.transport.read('token', { fromBeginning: false }).subscribe((m) => markers.push(m.value));
      // the same request again (a redelivery): a client reading from now sees its result again
      const again = createClient(w.transport);
      const second: RunResultMessage = await again.submit('chain', { n: 1 }, { requestId: 'req-2' });
      await again.close();
      sub.unsubscribe();
      expect(c.callsOf('req-2')).toEqual([1, 1, 1]);
      const same = (r: RunResultMessage) => ({ runId: r.runId, status: r.status, output: r.output, outputs: r.outputs, error: r.error });
      expect(same(second)).toEqual(same(first));
      expect(markers.some((m) => m.runId === 'req-2' && m.nodeId === '' && m.restart === 'ended')).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('whose run a live process holds waits for it (health `durable` degraded meanwhile), then publishes its result without running anything', async () => {
    const store = createMemoryStore();
    const c = chain();
    const holder = createEngine({ store, topologies: [c.t], durable: { owner: 'live-holder', leaseMs: 60_000 } });
    const held = holder.run(c.t, { n: 2 }, { runId: 'req-3' });
    await until('the holder runs c', () => c.callsOf('req-3')[2] === 1);
    const w = await serve(store, c.t, 'worker-b');
    try {
      const answer = w.client.submit('chain', { n: 2 }, { requestId: 'req-3' });
      await until('the worker waits for the held run', () => w.worker.health.report().components['worker.durable']?.status === 'degraded');
      expect(w.worker.health.report().components['worker.durable']?.reason).toMatch(/run 'req-3': held by live-holder/);
      c.open();
      expect((await held).status).toBe('completed');
      const r = await answer;
      expect(r.status).toBe('completed');
      expect(JSON.parse(r.output!)).toBe('c30');
      expect(c.callsOf('req-3')).toEqual([1, 1, 1]);
      expect(w.worker.health.report().components['worker.durable']?.status).toBe('up');
    } finally {
      await w.close();
      await holder.shutdown();
    }
  });

  it('whose run stays held past heldWaitMs is answered with a failed, retriable RUN_HELD result', async () => {
    const store = createMemoryStore();
    const c = chain();
    const holder = createEngine({ store, topologies: [c.t], durable: { owner: 'live-holder', leaseMs: 60_000 } });
    void holder.run(c.t, { n: 3 }, { runId: 'req-4' });
    await until('the holder runs c', () => c.callsOf('req-4')[2] === 1);
    const w = await serve(store, c.t, 'worker-b', { heldWaitMs: 120 });
    try {
      const r = await w.client.submit('chain', { n: 3 }, { requestId: 'req-4' });
      expect(r.status).toBe('failed');
      const error = JSON.parse(r.error!) as { code: string; retriable: boolean; message: string };
      expect(error).toMatchObject({ code: 'RUN_HELD', retriable: true });
      expect(error.message).toContain('heldWaitMs');
      expect(c.callsOf('req-4')).toEqual([1, 1, 1]);
      expect(w.worker.health.report().components['worker.durable']?.status).toBe('up');
    } finally {
      c.open();
      await w.close();
      await holder.shutdown();
    }
  });

  it('names the run after the request: a new request runs under its request id', async () => {
    const store = createMemoryStore();
    const c = chain();
    c.open();
    const w = await serve(store, c.t, 'worker-b');
    try {
      const r = await w.client.submit('chain', { n: 0 }, { requestId: 'req-5' });
      expect(r.runId).toBe('req-5');
      expect((await store.getRun('req-5'))?.status).toBe('completed');
    } finally {
      await w.close();
    }
  });
});
