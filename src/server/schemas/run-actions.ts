/**
 * Schemas of acting on a run: a cancel's body and reply, a signal's path, body and reply,
 * and a fork's body. A fork answers as a start does (`run-start.ts`).
 * @module
 */
import * as z from 'zod';
import { NodeOverrideSchema } from '../../runtime/options.ts';
import { text } from './common.ts';
import { RunIdSchema } from './run-start.ts';

/**
 * Schema of the reply to a cancel: accepted; `requestedOf` names the process that holds the run
 * and cancels it at its next lease renewal (the run's status says when it has ended).
 *
 * @example
 * ```ts
 * CancelledSchema.parse({ runId: 'r-1', cancelled: true });
 * CancelledSchema.parse({ runId: 'r-2', cancelled: true, requestedOf: 'host:4242:ab12' });
 * ```
 */
export const CancelledSchema = z.object({ runId: z.string(), cancelled: z.literal(true), requestedOf: z.string().optional() }).meta({ id: 'RunCancelled' });

/**
 * Schema of a cancel's body (optional): why, recorded in the run's `CancelledError` message.
 *
 * @example
 * ```ts
 * CancelBodySchema.parse({ reason: 'the customer withdrew' });
 * ```
 */
export const CancelBodySchema = z.strictObject({ reason: text().max(1000).optional() }).nullish().meta({ id: 'Cancel' });

/**
 * Schema of the path of a signal: the run and the signal's name.
 *
 * @example
 * ```ts
 * SignalParamsSchema.parse({ id: 'r-1', name: 'approval' });
 * ```
 */
export const SignalParamsSchema = z.object({ id: text().min(1), name: text().min(1) });

/**
 * Schema of a signal's body: the payload the wait node's schema checks.
 *
 * @example
 * ```ts
 * SignalBodySchema.parse({ payload: { approved: true } });
 * ```
 */
export const SignalBodySchema = z.strictObject({ payload: z.unknown() }).meta({ id: 'Signal' });

/**
 * Schema of the reply to a signal.
 *
 * @example
 * ```ts
 * SignalledSchema.parse({ runId: 'r-1', signalled: 'approval' });
 * ```
 */
export const SignalledSchema = z.object({ runId: z.string(), signalled: z.string() }).meta({ id: 'RunSignalled' });

/**
 * Schema of a fork's body: the node to run again and what to change.
 *
 * @example
 * ```ts
 * ForkBodySchema.parse({ from: 'draft', nodes: { draft: { model: 'sim:fast' } }, wait: true });
 * ```
 */
export const ForkBodySchema = z.strictObject({
  /** The node to run again; it and its descendants run, the others' outputs come from the parent's log. */
  from: text().min(1),
  /** The fork's input (default the parent's). */
  input: z.unknown().optional(),
  /** Outputs to use instead of the logged ones, by node id. */
  outputs: z.record(z.string(), z.unknown()).optional(),
  /** Per-node settings (an llm node's model, system, prompt), by node id. */
  nodes: z.record(z.string(), NodeOverrideSchema).optional(),
  wait: z.boolean().default(false),
  runId: RunIdSchema.optional(),
}).meta({ id: 'Fork' });
