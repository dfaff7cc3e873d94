/**
 * Validation of inbound message kinds beyond their Avro shape (shared by every
 * transport): a message that fails it is dead-lettered with the reason.
 * @module
 */
import { formatIssues, toIssues } from '../errors.ts';
import { FeedbackSchema, PolicyUpdateSchema, SignalSchema, type MessageKind, type Messages } from './messages.ts';

/**
 * Returns why a decoded message is invalid, or undefined when it is fine.
 *
 * @example
 * ```ts
 * checkMessage('feedback', msg); // "score: Invalid input: expected number, received NaN"
 * ```
 */
export function checkMessage<K extends MessageKind>(kind: K, value: Messages[K]): string | undefined {
  const schema = kind === 'feedback' ? FeedbackSchema : kind === 'policy' ? PolicyUpdateSchema : kind === 'signal' ? SignalSchema : undefined;
  if (schema === undefined) return undefined;
  const r = schema.safeParse(value);
  return r.success ? undefined : `invalid ${kind}:\n${formatIssues(toIssues(r.error.issues))}`;
}
