/**
 * Schemas of starting a run with `POST /v1/runs`: the id a caller may pick, the body,
 * and the two replies (accepted, or the outcome when the start waits).
 * @module
 */
import * as z from 'zod';
import { RunErrorSchema, text, UsageSchema } from './common.ts';

/**
 * Schema of a run id a caller picks (on a start or a fork): 1 to 200 letters, digits, `_`, `.`, `:` and `-`.
 *
 * @example
 * ```ts
 * RunIdSchema.parse('nightly-2024.06.01:r1');
 * ```
 */
export const RunIdSchema = z.string().min(1).max(200).regex(/^[\w.:-]+$/, 'use letters, digits, `_`, `.`, `:` and `-`');

/**
 * Schema of `POST /v1/runs`'s body.
 *
 * @example
 * ```ts
 * StartRunBodySchema.parse({ topology: 'rag', input: { question: 'why?' }, wait: true });
 * ```
 */
export const StartRunBodySchema = z.strictObject({
  topology: text().min(1).max(200),
  /** The topology's input (its schema checks it). */
  input: z.unknown(),
  /** Answer with the run's outcome once it ends (at most the server's `waitTimeoutMs`). Default false. */
  wait: z.boolean().default(false),
  /** The run's id; default a random UUID. A taken id answers 409 RUN_EXISTS. */
  runId: RunIdSchema.optional(),
  project: text().min(1).max(200).optional(),
}).meta({ id: 'StartRun' });

/**
 * Schema of the reply to a run accepted but not (yet) ended: 202.
 *
 * @example
 * ```ts
 * RunAcceptedSchema.parse({ runId: 'r-1', status: 'running', links: { self: '/v1/runs/r-1', stream: '/v1/runs/r-1/stream' } });
 * ```
 */
export const RunAcceptedSchema = z.object({
  runId: z.string(),
  status: z.literal('running'),
  links: z.object({ self: z.string(), stream: z.string() }),
}).meta({ id: 'RunAccepted' });

/**
 * Schema of how a run ended or parked (`RunOutcome`): what a start with `wait` answers.
 *
 * @example
 * ```ts
 * const o = RunOutcomeSchema.parse(await res.json());
 * ```
 */
export const RunOutcomeSchema = z.object({
  runId: z.string(),
  topology: z.string(),
  status: z.enum(['completed', 'failed', 'cancelled', 'waiting']),
  output: z.unknown().optional(),
  error: RunErrorSchema.optional(),
  usage: UsageSchema.optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
}).meta({ id: 'RunOutcome' });
