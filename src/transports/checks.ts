/**
 * Validation of inbound message kinds beyond their Avro shape (shared by every
 * transport): a message that fails it is dead-lettered with the reason.
 * @module
 */
import * as z from 'zod';
import { formatIssues, toIssues } from '../errors.ts';
import { FeedbackSchema, PolicyUpdateSchema, SignalSchema, type MessageKind, type Messages } from './messages.ts';

const jsonText = z.string().refine((v) => { try { JSON.parse(v); return true; } catch { return false; } }, 'must be JSON text');
const count = z.number().int().nonnegative();
const amount = z.number().finite().nonnegative();

/**
 * Semantic checks of evaluation requests beyond the Avro shape: ids set, `input` and `output`
 * JSON text, latency, tokens and cost non-negative, `evaluationId` the run id (or `<runId>:<nodeId>`).
 *
 * @example
 * ```ts
 * EvaluationRequestSchema.safeParse(request).success;
 * ```
 */
export const EvaluationRequestSchema = z.object({
  evaluationId: z.string().min(1),
  runId: z.string().min(1),
  nodeId: z.string().min(1).nullable(),
  topology: z.string().min(1),
  policyVersion: z.number().int().nonnegative().nullable(),
  input: jsonText,
  output: jsonText,
  latencyMs: amount,
  inputTokens: count,
  outputTokens: count,
  costUsd: amount,
  ts: z.number().nonnegative(),
}).loose().refine((e) => e.evaluationId === (e.nodeId === null ? e.runId : `${e.runId}:${e.nodeId}`), {
  message: 'must be the run id, or <runId>:<nodeId> when a node is evaluated', path: ['evaluationId'],
});

/**
 * Semantic checks of experience records beyond the Avro shape: names set, `context` JSON text,
 * quality and reward finite, cost non-negative.
 *
 * @example
 * ```ts
 * ExperienceSchema.safeParse(record).success;
 * ```
 */
export const ExperienceSchema = z.object({
  runId: z.string().min(1),
  topology: z.string().min(1),
  decision: z.string().min(1),
  arm: z.string().min(1),
  context: jsonText,
  metric: z.string().min(1),
  quality: z.number().finite(),
  costUsd: amount,
  reward: z.number().finite(),
  ts: z.number().nonnegative(),
}).loose();

const SCHEMAS: Partial<Record<MessageKind, z.ZodType>> = {
  feedback: FeedbackSchema,
  policy: PolicyUpdateSchema,
  signal: SignalSchema,
  evaluation: EvaluationRequestSchema,
  experience: ExperienceSchema,
};

/**
 * Returns why a decoded message is invalid, or undefined when it is fine.
 *
 * @example
 * ```ts
 * checkMessage('feedback', msg); // "score: Invalid input: expected number, received NaN"
 * ```
 */
export function checkMessage<K extends MessageKind>(kind: K, value: Messages[K]): string | undefined {
  const schema = SCHEMAS[kind];
  if (schema === undefined) return undefined;
  const r = schema.safeParse(value);
  return r.success ? undefined : `invalid ${kind}:\n${formatIssues(toIssues(r.error.issues))}`;
}
