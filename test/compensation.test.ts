/**
 * Saga compensation and generic node retries.
 *
 * Compensation: when a run fails, the completed nodes that declare `compensate`
 * are undone newest-first, once each, with their output and the run's error,
 * before the run's terminal event is recorded and its result delivered (so
 * run.failed stays the last event of the run); a compensation that throws is recorded as
 * node.compensation_failed and the others still run; completed and cancelled runs
 * do not compensate, nor do nodes that failed, were skipped or never ran.
 *
 * Generic retry: a non-llm node with `retry` is retried for errors flagged
 * `retriable: true` (node.retry events), never for plain errors.
 *
 * No wall-clock waits: deferreds and microtask/IO draining only.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createEngine, isNodeError, topology, type Engine, type RunEvent,
} from '../src/index.ts';
import type { CompensationContext } from '../src/definition/types.ts';
import type { NodeCompensationFailedEvent, NodeRetryEvent } from '../src/runtime/events.ts';
import { deferred, flush, untilAborted } from './support/helpers.ts';

/** Lifecycle events recorded from the bus. */
function record(engine: Engine): RunEvent[] {
  const events: RunEvent[] = [];
  engine.events$.subscribe((e) => {
    if ('seq' in e) events.push(e);
  });
  return events;
}

const types = (events: readonly RunEvent[]): string[] => events.map((e) => ('nodeId' in e ? `${e.type}:${e.nodeId}` : e.type));

interface Undo { readonly nodeId: string; readonly ctx: CompensationContext }

/** reserve -> charge -> ship (fails unless told otherwise); every step can be undone. */
function saga(undone: Undo[], opts: { shipFails?: boolean; chargeCompensation?: (ctx: CompensationContext) => unknown } = {}) {
  const undo = (nodeId: string) => (ctx: CompensationContext): void => void undone.push({ nodeId, ctx });
  return topology('saga', { input: z.object({ order: z.string() }) })
    .map('reserve', { run: ({ input }) => ({ reservation: `r-${input.order}` }), compensate: undo('reserve') })
    .map('charge', {
      after: ['reserve'],
      run: ({ deps }) => ({ payment: `p-${deps.reserve.reservation}` }),
      compensate: opts.chargeCompensation ?? undo('charge'),
    })
    .map('ship', {
      after: ['charge'],
      run: (): string => {
        if (opts.shipFails ?? true) throw new Error('no trucks available');
        return 'shipped';
      },
      compensate: undo('ship'),
    })
    .map('notify', { after: ['ship'], run: () => 'notified', compensate: undo('notify') })
    .build({ output: 'notify' });
}

describe('compensation', () => {
  it('a failed run undoes its completed steps newest-first, once each, with their output and the error', async () => {
    const engine = createEngine();
    const undone: Undo[] = [];
    const result = await engine.run(saga(undone), { order: 'o1' });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'NODE_FAILED', nodeId: 'ship' });

    // ship failed and notify never ran: neither is compensated
    expect(undone.map((u) => u.nodeId)).toEqual(['charge', 'reserve']);
    const [charge, reserve] = undone;
    expect(charge!.ctx).toEqual({
      input: { order: 'o1' }, output: { payment: 'p-r-o1' }, runId: result.runId, nodeId: 'charge',
      error: expect.objectContaining({ code: 'NODE_FAILED', nodeId: 'ship', message: expect.stringContaining('no trucks available') }),
    });
    expect(reserve!.ctx).toMatchObject({ input: { order: 'o1' }, output: { reservation: 'r-o1' }, runId: result.runId, nodeId: 'reserve' });
    expect(reserve!.ctx.error).toEqual(charge!.ctx.error);
    expect(reserve!.ctx.error.cause).toMatchObject({ message: 'no trucks available' });
    // outputs of the completed steps stay visible on the failed result
    expect(result.outputs).toEqual({ reserve: { reservation: 'r-o1' }, charge: { payment: 'p-r-o1' } });
  });

  it('the node.compensated events come before run.failed, newest-first; run.failed is the last event', async () => {
    const engine = createEngine();
    const bus = record(engine);
    const result = await engine.run(saga([]), { order: 'o2' });
    const history = types(result.events);
    expect(history).toEqual([
      'run.started',
      'node.started:reserve', 'node.completed:reserve',
      'node.started:charge', 'node.completed:charge',
      'node.started:ship', 'node.failed:ship',
      'node.compensated:charge', 'node.compensated:reserve',
      'run.failed',
    ]);
    expect(result.events.map((e) => e.seq)).toEqual(history.map((_, i) => i));
    // the bus saw the same history, in the same order
    expect(types(bus.filter((e) => e.runId === result.runId))).toEqual(history);
  });

  it('an async compensation is awaited before the result is delivered, and they run one at a time', async () => {
    const engine = createEngine();
    const gates = { charge: deferred(), reserve: deferred() };
    const running: string[] = [];
    const finished: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const slow = (nodeId: 'charge' | 'reserve') => async (): Promise<void> => {
      running.push(nodeId);
      maxConcurrent = Math.max(maxConcurrent, ++concurrent);
      await gates[nodeId].promise;
      concurrent--;
      finished.push(nodeId);
    };
    const t = topology('slow-saga')
      .map('reserve', { run: () => 1, compensate: slow('reserve') })
      .map('charge', { after: ['reserve'], run: () => 2, compensate: slow('charge') })
      .map('ship', { after: ['charge'], run: (): number => { throw new Error('boom'); } })
      .build();
    let delivered = false;
    const pending = engine.run(t, undefined).then((r) => {
      delivered = true;
      return r;
    });
    await flush();
    expect(running).toEqual(['charge']);
    expect(delivered).toBe(false);
    expect(engine.inFlight).toBe(1); // the run holds its slot while it compensates
    gates.charge.resolve();
    await flush();
    expect(running).toEqual(['charge', 'reserve']);
    expect(delivered).toBe(false);
    gates.reserve.resolve();
    const result = await pending;
    expect(finished).toEqual(['charge', 'reserve']);
    expect(maxConcurrent).toBe(1);
    expect(types(result.events).slice(-3)).toEqual(['node.compensated:charge', 'node.compensated:reserve', 'run.failed']);
    expect(engine.inFlight).toBe(0);
  });

  it('while a compensation runs the bus has no terminal event for the run yet', async () => {
    const engine = createEngine();
    const bus = record(engine);
    const gate = deferred();
    const t = topology('pending-saga')
      .map('reserve', { run: () => 1, compensate: () => gate.promise })
      .map('ship', { after: ['reserve'], run: (): number => { throw new Error('boom'); } })
      .build();
    const pending = engine.run(t, undefined);
    await flush();
    expect(types(bus)).toEqual(['run.started', 'node.started:reserve', 'node.completed:reserve', 'node.started:ship', 'node.failed:ship']);
    gate.resolve();
    const result = await pending;
    expect(types(bus)).toEqual([...types(bus).slice(0, 5), 'node.compensated:reserve', 'run.failed']);
    expect(bus).toEqual(result.events);
  });

  it('a compensation that throws is recorded as node.compensation_failed; the others still run', async () => {
    const engine = createEngine();
    const undone: Undo[] = [];
    let chargeCalls = 0;
    const result = await engine.run(saga(undone, {
      chargeCompensation: () => {
        chargeCalls++;
        throw new Error('refund API down');
      },
    }), { order: 'o3' });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ nodeId: 'ship' }); // the run's error is unchanged
    expect(chargeCalls).toBe(1); // not retried
    expect(undone.map((u) => u.nodeId)).toEqual(['reserve']);
    expect(types(result.events).slice(-3)).toEqual(['node.compensation_failed:charge', 'node.compensated:reserve', 'run.failed']);
    const failed = result.events.find((e) => e.type === 'node.compensation_failed') as NodeCompensationFailedEvent;
    expect(failed.error).toMatchObject({ message: 'refund API down', name: 'Error' });
  });

  it('a compensation that rejects asynchronously is recorded the same way', async () => {
    const engine = createEngine();
    const undone: Undo[] = [];
    const result = await engine.run(saga(undone, { chargeCompensation: async () => Promise.reject(new Error('later failure')) }), { order: 'o4' });
    expect(undone.map((u) => u.nodeId)).toEqual(['reserve']);
    const failed = result.events.find((e) => e.type === 'node.compensation_failed') as NodeCompensationFailedEvent;
    expect(failed).toMatchObject({ nodeId: 'charge', error: { message: 'later failure' } });
  });

  it('a completed run does not compensate', async () => {
    const engine = createEngine();
    const undone: Undo[] = [];
    const result = await engine.run(saga(undone, { shipFails: false }), { order: 'o5' });
    expect(result.status).toBe('completed');
    expect(result.output).toBe('notified');
    expect(undone).toEqual([]);
    expect(result.events.some((e) => e.type === 'node.compensated' || e.type === 'node.compensation_failed')).toBe(false);
  });

  it('a cancelled run does not compensate', async () => {
    const engine = createEngine();
    const undone: Undo[] = [];
    const undo = (nodeId: string) => (ctx: CompensationContext): void => void undone.push({ nodeId, ctx });
    const started = deferred();
    const t = topology('cancel-saga')
      .map('reserve', { run: () => 'r', compensate: undo('reserve') })
      .map('ship', {
        after: ['reserve'],
        run: ({ signal }) => {
          started.resolve();
          return untilAborted(signal);
        },
        compensate: undo('ship'),
      })
      .build();
    const ctl = new AbortController();
    const pending = engine.run(t, undefined, { signal: ctl.signal });
    await started.promise;
    ctl.abort(new Error('user cancelled'));
    const result = await pending;
    expect(result.status).toBe('cancelled');
    await flush();
    expect(undone).toEqual([]);
    expect(result.events.some((e) => e.type === 'node.compensated')).toBe(false);
  });

  it('a run cancelled by engine shutdown does not compensate', async () => {
    const engine = createEngine();
    const undone: string[] = [];
    const started = deferred();
    const t = topology('shutdown-saga')
      .map('reserve', { run: () => 'r', compensate: () => void undone.push('reserve') })
      .map('ship', { after: ['reserve'], run: ({ signal }) => (started.resolve(), untilAborted(signal)) })
      .build();
    const pending = engine.run(t, undefined);
    await started.promise;
    await engine.shutdown({ mode: 'cancel' });
    expect((await pending).status).toBe('cancelled');
    expect(undone).toEqual([]);
  });

  it('parallel branches are undone in reverse completion order; a skipped branch is not undone', async () => {
    const engine = createEngine();
    const undone: string[] = [];
    const gateA = deferred();
    const gateB = deferred();
    const t = topology('parallel-saga')
      .map('a', { run: async () => (await gateA.promise, 'A'), compensate: () => void undone.push('a') })
      .map('b', { run: async () => (await gateB.promise, 'B'), compensate: () => void undone.push('b') })
      .route('pick', { select: (): 'left' | 'right' => 'left', branches: { left: ['left'], right: ['right'] } })
      .map('left', { after: ['pick'], run: () => 'L', compensate: () => void undone.push('left') })
      .map('right', { after: ['pick'], run: () => 'R', compensate: () => void undone.push('right') })
      .map('fail', { after: ['a', 'b', 'left'], run: (): string => { throw new Error('late failure'); } })
      .build();
    const pending = engine.run(t, undefined);
    await flush();
    gateB.resolve(); // b completes first
    await flush();
    gateA.resolve(); // then a
    const result = await pending;
    expect(result.status).toBe('failed');
    expect(result.skipped).toEqual(['right']);
    const completedOrder = result.events.filter((e) => e.type === 'node.completed').map((e) => (e as { nodeId: string }).nodeId);
    const expected = completedOrder.filter((id) => id !== 'pick').reverse();
    expect(undone).toEqual(expected);
    expect(undone.indexOf('a')).toBeLessThan(undone.indexOf('b')); // a completed last, so it is undone first
    expect(undone).not.toContain('right');
  });

  it('a run failing by its deadline compensates too', async () => {
    const engine = createEngine();
    const undone: string[] = [];
    const t = topology('deadline-saga')
      .map('reserve', { run: () => 'r', compensate: ({ error }) => void undone.push(`reserve:${error.code}`) })
      .map('slow', { after: ['reserve'], run: ({ signal }) => untilAborted(signal) })
      .build();
    const result = await engine.run(t, undefined, { deadlineMs: 20 });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'TIMEOUT' });
    expect(undone).toEqual(['reserve:TIMEOUT']);
  });

  it('each failed run of a stream compensates its own steps once', async () => {
    const engine = createEngine();
    const undone: string[] = [];
    const t = topology('stream-saga', { input: z.number() })
      .map('step', { run: ({ input }) => input, compensate: ({ output, runId }) => void undone.push(`${String(output)}@${runId}`) })
      .map('check', { after: ['step'], run: ({ deps }) => { if (deps.step % 2 === 1) throw new Error(`odd ${deps.step}`); return deps.step; } })
      .build({ output: 'check' });
    const results: { status: string; runId: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      engine.stream(t, [0, 1, 2, 3, 4, 5], { maxInFlight: 3 }).subscribe({ next: (r) => results.push(r), error: reject, complete: resolve });
    });
    const failedRuns = results.filter((r) => r.status === 'failed');
    expect(failedRuns).toHaveLength(3);
    expect(undone.sort()).toEqual(failedRuns.map((r) => r.runId).flatMap((id) => undone.filter((u) => u.endsWith(`@${id}`))).sort());
    expect(undone.map((u) => Number(u.split('@')[0])).sort()).toEqual([1, 3, 5]);
    expect(new Set(undone).size).toBe(3);
  });
});

describe('generic node retry (non-llm nodes)', () => {
  const retriable = (message: string): Error => Object.assign(new Error(message), { retriable: true });

  it('a map node with `retry` retries errors flagged retriable and records node.retry events', async () => {
    const engine = createEngine();
    let calls = 0;
    const t = topology('flaky')
      .map('flaky', {
        retry: { maxAttempts: 4, initialDelayMs: 0, maxDelayMs: 1 },
        run: () => {
          calls++;
          if (calls < 3) throw retriable(`attempt ${calls} failed`);
          return `ok after ${calls}`;
        },
      })
      .build({ output: 'flaky' });
    const result = await engine.run(t, undefined);
    expect(result.status, String(result.error)).toBe('completed');
    expect(result.output).toBe('ok after 3');
    expect(calls).toBe(3);
    const retries = result.events.filter((e): e is NodeRetryEvent => e.type === 'node.retry');
    expect(retries.map((r) => [r.nodeId, r.attempt])).toEqual([['flaky', 2], ['flaky', 3]]);
    expect(retries.map((r) => r.error.message)).toEqual(['attempt 1 failed', 'attempt 2 failed']);
    expect(retries.every((r) => r.error.retriable && r.delayMs >= 0 && r.delayMs <= 1 && r.model === undefined)).toBe(true);
    expect(types(result.events)).toEqual([
      'run.started', 'node.started:flaky', 'node.retry:flaky', 'node.retry:flaky', 'node.completed:flaky', 'run.completed',
    ]);
  });

  it('a plain Error is not retried', async () => {
    const engine = createEngine();
    let calls = 0;
    const t = topology('plain')
      .map('plain', {
        retry: { maxAttempts: 5, initialDelayMs: 0, maxDelayMs: 1 },
        run: (): string => {
          calls++;
          throw new Error('a bug, not a blip');
        },
      })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status).toBe('failed');
    expect(calls).toBe(1);
    expect(result.error).toMatchObject({ code: 'NODE_FAILED', nodeId: 'plain', retriable: false });
    expect((result.error!.cause as Error).message).toBe('a bug, not a blip');
    expect(result.events.some((e) => e.type === 'node.retry')).toBe(false);
  });

  it('retries run out with RETRIES_EXHAUSTED (attempts, last error as cause)', async () => {
    const engine = createEngine();
    let calls = 0;
    const t = topology('always')
      .map('always', {
        retry: { maxAttempts: 3, initialDelayMs: 0, maxDelayMs: 1 },
        run: async (): Promise<string> => {
          calls++;
          throw retriable(`failure ${calls}`);
        },
      })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status).toBe('failed');
    expect(calls).toBe(3);
    expect(isNodeError(result.error)).toBe(true);
    expect(result.error).toMatchObject({ code: 'RETRIES_EXHAUSTED', nodeId: 'always' });
    const exhausted = result.error!.cause as { attempts: number; cause: Error };
    expect(exhausted.attempts).toBe(3);
    expect(exhausted.cause.message).toBe('failure 3');
    expect(result.events.filter((e) => e.type === 'node.retry')).toHaveLength(2);
  });

  it('a node without `retry` is not retried, even with engine retry defaults; `retry: {}` takes them', async () => {
    const engine = createEngine({ resilience: { retry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 1 } } });
    const calls = { plain: 0, opted: 0 };
    const t = topology('defaults')
      .map('plain', { run: (): string => { calls.plain++; throw retriable('blip'); } })
      .build();
    const t2 = topology('defaults2')
      .map('opted', { retry: {}, run: (): string => { calls.opted++; throw retriable('blip'); } })
      .build();
    expect((await engine.run(t, undefined)).status).toBe('failed');
    expect(calls.plain).toBe(1);
    const r2 = await engine.run(t2, undefined);
    expect(calls.opted).toBe(2);
    expect(r2.error).toMatchObject({ code: 'RETRIES_EXHAUSTED' });
  });

  it('node retries draw on the run\'s retry budget', async () => {
    const engine = createEngine({ resilience: { retryBudget: 1 } });
    let calls = 0;
    const t = topology('budget')
      .map('b', {
        retry: { maxAttempts: 10, initialDelayMs: 0, maxDelayMs: 1 },
        run: (): string => {
          calls++;
          throw retriable('blip');
        },
      })
      .build();
    const result = await engine.run(t, undefined);
    expect(calls).toBe(2);
    expect(result.error).toMatchObject({ code: 'RETRIES_EXHAUSTED' });
    expect(result.error!.message).toContain('budget');
  });

  it('a node that succeeded after retries and then is followed by a failure is compensated once', async () => {
    const engine = createEngine();
    let calls = 0;
    const undone: unknown[] = [];
    const t = topology('retry-then-undo')
      .map('a', {
        retry: { maxAttempts: 3, initialDelayMs: 0, maxDelayMs: 1 },
        run: () => {
          if (++calls === 1) throw retriable('blip');
          return 'A';
        },
        compensate: ({ output }) => void undone.push(output),
      })
      .map('b', { after: ['a'], run: (): string => { throw new Error('fail'); } })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status).toBe('failed');
    expect(undone).toEqual(['A']);
    expect(types(result.events)).toContain('node.retry:a');
  });
});
