/**
 * `wait`: waits for a person or an event. The node completes with the payload of
 * `engine.signal(runId, name, payload)`, validated by its zod `schema`; when no
 * signal came within `timeoutMs` it fails with a WaitError `WAIT_TIMEOUT` (or its
 * `onError` edge takes over).
 *
 * In an engine with a store the run is **parked**: a `run.waiting` event is stored,
 * the run releases its lease and leaves the process (nothing of it stays in memory),
 * and `engine.run` resolves with status `'waiting'`. `engine.signal` (in any process,
 * days later) resumes it from its log. Without a store, the run waits in memory.
 * @module
 */
import type { z } from 'zod';
import type { NodeDef, WaitRequest } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** Spec of a wait node. Its output is the signal's payload (as `schema` outputs it). */
export interface WaitSpec<P> extends Omit<BaseSpec<P>, 'timeoutMs' | 'output' | 'streamFrom' | 'retry' | 'remote' | 'pool' | 'compensate'> {
  /** The signal name `engine.signal` must give. */
  readonly name: string;
  /** Validates the signal's payload; a bad payload is refused by `engine.signal` (ValidationError naming the field). */
  readonly schema: z.ZodType<P>;
  /** How long to wait for the signal (ms). Default: forever. */
  readonly timeoutMs?: number;
}

/**
 * Creates a wait node.
 *
 * @example
 * ```ts
 * const approval = wait('approval', { after: ['draft'], name: 'approve', schema: z.object({ ok: z.boolean() }), timeoutMs: 86_400_000 });
 * ```
 */
export function wait<Id extends string, P>(id: Id, spec: WaitSpec<P>): NodeDef & { readonly id: Id } {
  const request: WaitRequest = spec.timeoutMs === undefined
    ? { name: spec.name, schema: spec.schema }
    : { name: spec.name, schema: spec.schema, timeoutMs: spec.timeoutMs };
  // the wait's timeout is not the executor's node timeout: it outlives the process
  const { timeoutMs, ...rest } = spec;
  const def = nodeDef(id, 'wait', { ...rest, waitTimeoutMs: timeoutMs } as BaseSpec<P>, (ctx, services) => services.wait(ctx, request));
  return { ...def, wait: request };
}
