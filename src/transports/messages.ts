/**
 * The message types that travel between workers, clients and the other suite
 * modules, as TypeScript types mirroring the Avro schemas in `schemas/`, plus
 * zod schemas for the inbound kinds (feedback, policy updates) so they arrive
 * validated. The types live by concept in `messages/` (run, loop, audit, dead
 * letter, remote, signal); this module re-exports them and maps kinds to types.
 * @module
 */
import type { RunRequestMessage, RunResultMessage, TokenBatchMessage, LifecycleEventMessage } from './messages/run.ts';
import type { FeedbackMessage, EvaluationRequestMessage, ExperienceMessage, PolicyUpdateMessage } from './messages/loop.ts';
import type { AuditMessage } from './messages/audit.ts';
import type { DeadLetterMessage } from './messages/dead-letter.ts';
import type { NodeTaskMessage, NodeResultMessage } from './messages/remote.ts';
import type { SignalMessage } from './messages/signal.ts';

export type { RunRequestMessage, RunResultMessage, TokenBatchMessage, LifecycleEventMessage } from './messages/run.ts';
export { RUN_ENDED, RUN_ABANDONED, isRunEndMarker, REQUEST_ATTEMPT } from './messages/run.ts';
export type { FeedbackMessage, EvaluationRequestMessage, ExperienceMessage, PolicyUpdateMessage } from './messages/loop.ts';
export { GOVERNANCE_POLICY_TARGET, FeedbackSchema, PolicyUpdateSchema } from './messages/loop.ts';
export type { AuditMessage } from './messages/audit.ts';
export type { DeadLetterMessage } from './messages/dead-letter.ts';
export type { NodeTaskMessage, NodeResultMessage } from './messages/remote.ts';
export type { SignalMessage } from './messages/signal.ts';
export { SIGNAL_REJECTED, RUN_PARKED, isParkedResult, SignalSchema } from './messages/signal.ts';

/**
 * Message type by kind.
 *
 * @example
 * ```ts
 * const value: Messages['feedback'] = feedback;
 * ```
 */
export interface Messages {
  readonly nodeTask: NodeTaskMessage;
  readonly nodeResult: NodeResultMessage;
  readonly request: RunRequestMessage;
  readonly result: RunResultMessage;
  readonly token: TokenBatchMessage;
  readonly event: LifecycleEventMessage;
  readonly feedback: FeedbackMessage;
  readonly policy: PolicyUpdateMessage;
  readonly audit: AuditMessage;
  readonly deadLetter: DeadLetterMessage;
  readonly signal: SignalMessage;
  readonly evaluation: EvaluationRequestMessage;
  readonly experience: ExperienceMessage;
}

/**
 * A message kind (one topic each).
 *
 * @example
 * ```ts
 * const kind: MessageKind = 'nodeTask';
 * ```
 */
export type MessageKind = keyof Messages;

/**
 * Every kind.
 *
 * @example
 * ```ts
 * for (const kind of MESSAGE_KINDS) console.log(topics[kind]);
 * ```
 */
export const MESSAGE_KINDS: readonly MessageKind[] = ['request', 'result', 'token', 'event', 'feedback', 'policy', 'audit', 'deadLetter', 'nodeTask', 'nodeResult', 'signal', 'evaluation', 'experience'];
