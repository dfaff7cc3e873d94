import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, isNodeError, isValidationError, subTopology, topology } from '../src/index.ts';
import { deferred, flush, operatorConformance, recordEvents, untilAborted } from '../test/support/helpers.ts';

describe('subTopology operator', () => {
  operatorConformance({
    nodeId: 'sub',
    build: (behaviour) => {
      const child = topology('sub-conformance-child', { input: z.object({ n: z.number() }) })
        .map('work', { run: ({ input, signal }) => behaviour(input.n, signal) })
        .build({ output: 'work' });
      return topology('sub-conformance', { input: z.number() })
        .sub('sub', { topology: child, input: ({ input }) => ({ n: input }) })
        .build({ output: 'sub' });
    },
    expected: (n) => n * 10,
  });

  const doubler = topology('doubler', { input: z.object({ x: z.number() }) })
    .map('twice', { run: ({ input }) => input.x * 2 })
    .map('label', { after: ['twice'], run: ({ deps }) => `=${deps.twice}` })
    .build({ output: 'label' });

  it('subTopology() builds a topology NodeDef referencing the child', () => {
    const def = subTopology('s', { topology: doubler });
    expect(def.kind).toBe('topology');
    expect(def.topology).toBe(doubler);
  });

  it("the child's declared output becomes the node output", async () => {
    const t = topology('sub-output', { input: z.number() })
      .sub('s', { topology: doubler, input: ({ input }) => ({ x: input }) })
      .map('after', { after: ['s'], run: ({ deps }) => `${deps.s}!` })
      .build({ output: 'after' });
    const r = await createEngine().run(t, 21);
    expect(r.status).toBe('completed');
    expect(r.outputs).toMatchObject({ s: '=42', after: '=42!' });
  });

  it("without input, the child gets the parent's run input", async () => {
    const t = topology('sub-default-input', { input: z.object({ x: z.number() }) })
      .sub('s', { topology: doubler })
      .build({ output: 's' });
    expect((await createEngine().run(t, { x: 5 })).output).toBe('=10');
  });

  it('a child failure fails the parent node, with the child error as cause', async () => {
    const broken = topology('broken-child')
      .map('inner', { run: async () => { throw new Error('inner broke'); } })
      .build({ output: 'inner' });
    const t = topology('sub-fails').sub('s', { topology: broken }).build({ output: 's' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('s');
    const cause = r.error?.cause;
    expect(isNodeError(cause) && cause.nodeId).toBe('inner');
    expect(r.error?.message).toContain('inner broke');
  });

  it('an invalid child input fails the parent node with INPUT_INVALID', async () => {
    const t = topology('sub-bad-input')
      .sub('s', { topology: doubler, input: () => ({ x: 'nope' }) as unknown as { x: number } })
      .build({ output: 's' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('INPUT_INVALID');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('s');
    const cause = r.error?.cause;
    expect(isValidationError(cause) && cause.issues[0]!.path).toEqual(['input', 'x']);
  });

  it('child events carry parentRunId on engine.events$; parent events do not', async () => {
    const engine = createEngine();
    const rec = recordEvents(engine);
    const t = topology('sub-events', { input: z.number() })
      .sub('s', { topology: doubler, input: ({ input }) => ({ x: input }) })
      .build({ output: 's' });
    const r = await engine.run(t, 1);
    rec.stop();
    const parentEvents = rec.events.filter((e) => e.topology === 'sub-events');
    const childEvents = rec.events.filter((e) => e.topology === 'doubler');
    expect(parentEvents.every((e) => e.parentRunId === undefined && e.runId === r.runId)).toBe(true);
    expect(childEvents.length).toBeGreaterThan(0);
    expect(childEvents.every((e) => e.parentRunId === r.runId)).toBe(true);
    expect(new Set(childEvents.map((e) => e.runId)).size).toBe(1);
    expect(childEvents[0]!.runId).not.toBe(r.runId);
    expect(childEvents.map((e) => e.type)).toEqual([
      'run.started', 'node.started', 'node.completed', 'node.started', 'node.completed', 'run.completed',
    ]);
    expect(childEvents.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    // The child run ends before the parent node completes.
    const childEnd = rec.events.findIndex((e) => e.topology === 'doubler' && e.type === 'run.completed');
    const parentNodeDone = rec.events.findIndex((e) => e.topology === 'sub-events' && e.type === 'node.completed');
    expect(childEnd).toBeLessThan(parentNodeDone);
  });

  it('cancelling the parent run cancels the child run', async () => {
    const engine = createEngine();
    const rec = recordEvents(engine);
    const childStarted = deferred();
    let childAborted = false;
    const slowChild = topology('slow-child')
      .map('wait', { run: ({ signal }) => { childStarted.resolve(); return untilAborted(signal, () => { childAborted = true; }); } })
      .build({ output: 'wait' });
    const t = topology('sub-cancel').sub('s', { topology: slowChild }).build({ output: 's' });
    const ctl = new AbortController();
    const pending = engine.run(t, undefined, { signal: ctl.signal });
    await childStarted.promise;
    ctl.abort(new Error('user cancelled'));
    const r = await pending;
    await flush();
    rec.stop();
    expect(r.status).toBe('cancelled');
    expect(childAborted).toBe(true);
    const childCancelled = rec.events.filter((e) => e.topology === 'slow-child' && e.type === 'run.cancelled');
    expect(childCancelled).toHaveLength(1);
    expect(childCancelled[0]!.parentRunId).toBe(r.runId);
    expect(engine.inFlight).toBe(0);
  });

  it('a sibling failure in the parent cancels the running child', async () => {
    let childAborted = false;
    const childStarted = deferred();
    const slowChild = topology('slow-child-2')
      .map('wait', { run: ({ signal }) => { childStarted.resolve(); return untilAborted(signal, () => { childAborted = true; }); } })
      .build();
    const t = topology('sub-sibling-fails')
      .sub('s', { topology: slowChild })
      .map('boom', { run: async () => { await childStarted.promise; throw new Error('sibling broke'); } })
      .build();
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('boom');
    expect(childAborted).toBe(true);
  });

  it('nests: a child may itself contain a sub-topology', async () => {
    const middle = topology('middle', { input: z.object({ x: z.number() }) })
      .sub('inner', { topology: doubler })
      .build({ output: 'inner' });
    const engine = createEngine();
    const rec = recordEvents(engine);
    const t = topology('outer', { input: z.number() })
      .sub('mid', { topology: middle, input: ({ input }) => ({ x: input }) })
      .build({ output: 'mid' });
    const r = await engine.run(t, 4);
    rec.stop();
    expect(r.output).toBe('=8');
    const midRun = rec.events.find((e) => e.topology === 'middle')!;
    expect(midRun.parentRunId).toBe(r.runId);
    expect(rec.events.filter((e) => e.topology === 'doubler').every((e) => e.parentRunId === midRun.runId)).toBe(true);
  });
});
