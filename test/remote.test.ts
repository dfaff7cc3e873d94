import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology, isTopologyError } from '../src/index.ts';
import { createMemoryTransport } from '../src/transports/memory.ts';
import { createRemoteExecutor, createRemoteWorker } from '../src/worker/remote.ts';

const pipeline = topology('remote-pipeline', { input: z.object({ text: z.string() }) })
  .map('clean', { run: ({ input }) => input.text.trim() })
  .map('heavy', { after: ['clean'], remote: 'gpu', run: ({ deps }) => ({ upper: deps.clean.toUpperCase(), where: process.pid }) })
  .map('boom', { after: ['clean'], remote: 'gpu', run: ({ deps }) => { if (deps.clean === 'fail') throw Object.assign(new Error('remote exploded'), { retriable: true }); return 'ok'; } })
  .join('out', { after: ['heavy', 'boom'], run: ({ deps }) => `${deps.heavy?.upper}/${deps.boom}` })
  .build({ output: 'out' });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const transport = createMemoryTransport();
  const remote = createRemoteExecutor(transport);
  const origin = createEngine({ remote });
  const gpuEngine = createEngine();
  const worker = createRemoteWorker({ engine: gpuEngine, transport, group: 'gpu', topologies: [pipeline] });
  cleanups.push(() => remote.close(), () => origin.shutdown(), () => worker.stop(), () => gpuEngine.shutdown());
  return { transport, origin, gpuEngine, worker };
}

describe('remote edges', () => {
  it('runs a remote node in its worker group with the same deps and output as a local node', async () => {
    const { origin, gpuEngine, worker } = setup();
    await worker.start();
    const seenByGpu: string[] = [];
    const sub = gpuEngine.events$.subscribe((e) => { if (e.type === 'node.started' && 'nodeId' in e) seenByGpu.push(e.nodeId); });
    const r = await origin.run(pipeline, { text: '  hello ' });
    sub.unsubscribe();
    expect(r.status).toBe('completed');
    expect(r.output).toBe('HELLO/ok');
    expect(r.outputs.heavy).toEqual({ upper: 'HELLO', where: process.pid });
    expect(seenByGpu.sort()).toEqual(['boom', 'heavy']); // only the remote nodes ran there
    expect(worker.handled).toBe(2);
  });

  it('a remote failure fails the node with the remote error, retriable flag kept', async () => {
    const { origin, worker } = setup();
    await worker.start();
    const r = await origin.run(pipeline, { text: 'fail' });
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ nodeId: 'boom', retriable: true });
    expect(r.error?.message).toContain('remote exploded');
    expect(r.outputs.heavy).toEqual({ upper: 'FAIL', where: process.pid });
  });

  it('cancelling the run stops waiting for the remote node', async () => {
    const { origin } = setup(); // no remote worker started: the task waits
    const ctl = new AbortController();
    const p = origin.run(pipeline, { text: 'x' }, { signal: ctl.signal });
    await new Promise((r) => setTimeout(r, 5));
    ctl.abort();
    expect((await p).status).toBe('cancelled');
  });

  it('an engine without a remote executor rejects a topology with remote nodes, naming the field', () => {
    try {
      createEngine().compile(pipeline);
      expect.unreachable();
    } catch (e) {
      expect(isTopologyError(e)).toBe(true);
      expect((e as Error).message).toContain('nodes.1.remote');
    }
  });
});
