/**
 * The message types that travel between workers, clients and the other suite
 * modules, as TypeScript types mirroring the Avro schemas in `schemas/`, plus
 * zod schemas for the inbound kinds (feedback, policy updates) so they arrive
 * validated.
 * @module
 */
import * as z from 'zod';
import type { UsageTotals } from '../providers/types.ts';

/**
 * A request to run a topology.
 *
 * @example
 * ```ts
 * await transport.send('request', [{ key: requestId, value: request }]);
 * ```
 */
export interface RunRequestMessage {
  readonly requestId: string;
  readonly topology: string;
  /** JSON text of the input. */
  readonly input: string;
  readonly priority: 'high' | 'normal' | 'low';
  readonly tenant: string | null;
  readonly deadlineMs: number | null;
  readonly createdAt: number;
  /** Who the run is for within its tenant (v2; v1 data reads with `user: null`): experiments stick to it. */
  readonly user?: string | null;
}


/**
 * The end of a run.
 *
 * @example
 * ```ts
 * if (result.status === 'completed') console.log(JSON.parse(result.output!));
 * ```
 */
export interface RunResultMessage {
  readonly requestId: string;
  readonly runId: string;
  readonly topology: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly output: string | null;
  readonly outputs: string;
  readonly error: string | null;
  readonly usage: UsageTotals;
  readonly worker: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * Consecutive tokens of one node of one run, a node restart marker (`restart` set, no tokens), or a
 * run end marker (`nodeId: ''`, `restart` {@link RUN_ENDED} or {@link RUN_ABANDONED}): a worker
 * sends one after the run's last tokens, so a reader knows the run's token stream is complete
 * (ended, its result follows) or was given up (abandoned: no result from this run).
 * v2 adds `requestId` and `attempt` (v1 data reads with `null` and 1).
 *
 * @example
 * ```ts
 * const text = batch.tokens.join(''); // tokens firstIndex .. firstIndex + tokens.length - 1
 * if (isRunEndMarker(batch)) close(batch.runId, batch.restart);
 * ```
 */
export interface TokenBatchMessage {
  readonly runId: string;
  readonly nodeId: string;
  readonly firstIndex: number;
  readonly tokens: readonly string[];
  readonly restart: string | null;
  readonly ts: number;
  /** The run request this run serves (null when the run was not started by a worker). v2: always set when read; null when the writer omitted it. */
  readonly requestId?: string | null;
  /** Deliveries of the request to the worker process that ran it, so far (1 = first; a redelivery to another process starts at 1 again). v2: always set when read; 1 when omitted. */
  readonly attempt?: number;
}

/**
 * `restart` of a run end marker: the run finished, its tokens are complete and its result follows.
 *
 * @example
 * ```ts
 * if (batch.nodeId === '' && batch.restart === RUN_ENDED) done(batch.runId);
 * ```
 */
export const RUN_ENDED = 'ended';

/**
 * `restart` of a run end marker: the worker gave the run up (a failed handler, a shutdown mid-run);
 * no result comes from this run, the request is redelivered to a worker.
 *
 * @example
 * ```ts
 * if (batch.nodeId === '' && batch.restart === RUN_ABANDONED) discard(batch.runId);
 * ```
 */
export const RUN_ABANDONED = 'abandoned';

/**
 * Whether a token batch is a run end marker (see {@link TokenBatchMessage}).
 *
 * @example
 * ```ts
 * if (isRunEndMarker(batch)) console.log(batch.runId, batch.restart); // 'ended' | 'abandoned'
 * ```
 */
export function isRunEndMarker(batch: TokenBatchMessage): boolean {
  return batch.nodeId === '' && (batch.restart === RUN_ENDED || batch.restart === RUN_ABANDONED);
}

/**
 * Lifecycle event type a worker publishes when it starts an attempt at a request, before the
 * run's first event. Keyed by request id (not run id), so a request's attempts stay in order.
 * `data` is JSON `{ worker }`. A reader following a request closes the earlier attempts' streams.
 *
 * @example
 * ```ts
 * if (event.type === REQUEST_ATTEMPT) follow(event.requestId!, event.runId);
 * ```
 */
export const REQUEST_ATTEMPT = 'request.attempt';

/**
 * One lifecycle event (v2 adds `requestId` and `attempt`; see {@link REQUEST_ATTEMPT}).
 *
 * @example
 * ```ts
 * const details = JSON.parse(event.data) as Record<string, unknown>;
 * ```
 */
export interface LifecycleEventMessage {
  readonly runId: string;
  readonly topology: string;
  readonly type: string;
  readonly seq: number;
  readonly ts: number;
  readonly nodeId: string | null;
  readonly parentRunId: string | null;
  /** JSON of the other event fields. */
  readonly data: string;
  /** The run request this run serves (null when the run was not started by a worker). v2: always set when read; null when the writer omitted it or wrote v1. */
  readonly requestId?: string | null;
  /** Deliveries of the request to the worker process that ran it, so far (1 = first). v2: always set when read; 1 when omitted or v1. */
  readonly attempt?: number;
}

/**
 * Evaluation feedback (v3; v1 data reads with `comment: null`, v1 and v2 data with `label: null`).
 *
 * @example
 * ```ts
 * await transport.send('feedback', [{ key: runId, value: { ...feedback, score: 0.9 } }]);
 * ```
 */
export interface FeedbackMessage {
  readonly feedbackId: string;
  readonly topology: string;
  readonly runId: string | null;
  readonly nodeId: string | null;
  readonly model: string | null;
  readonly metric: string;
  readonly score: number;
  readonly source: string;
  readonly ts: number;
  readonly comment: string | null;
  /** A categorical verdict beside the score (e.g. `pass`, `hallucination`); v3, null when absent. */
  readonly label?: string | null;
}

/**
 * What an evaluator needs to judge one run (or one marked llm node of it): sent when a
 * sampled run ends, on the evaluations topic (Kafka) or the loop's `evaluations$`.
 *
 * @example
 * ```ts
 * loop.evaluations$.subscribe((e) => judge(JSON.parse(e.input), JSON.parse(e.output)));
 * ```
 */
export interface EvaluationRequestMessage {
  /** `<runId>` for the run, `<runId>:<nodeId>` for a node. */
  readonly evaluationId: string;
  readonly runId: string;
  /** Set when one llm node is evaluated on its own. */
  readonly nodeId: string | null;
  readonly topology: string;
  /** `topologyVersion` of the definition that ran. */
  readonly version: string;
  readonly variant: string | null;
  readonly policyVersion: number | null;
  readonly promptVersion: string | null;
  /** The model that answered, by llm node id. */
  readonly models: Readonly<Record<string, string>>;
  /** Bandit choices by decision name. */
  readonly arms: Readonly<Record<string, string>>;
  /** JSON text of the run input. */
  readonly input: string;
  /** JSON text of the run output (or the node's output). */
  readonly output: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly latencyMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  readonly tenant: string | null;
  readonly user: string | null;
  readonly ts: number;
}

/**
 * A state-action-reward record for offline training of routers: which arm a bandit took
 * for a run, in what context, and the reward its feedback earned.
 *
 * @example
 * ```ts
 * loop.experience$.subscribe((x) => dataset.push([x.context, x.arm, x.reward]));
 * ```
 */
export interface ExperienceMessage {
  readonly runId: string;
  readonly topology: string;
  /** The decision's name (the llm node id). */
  readonly decision: string;
  readonly arm: string;
  /** JSON text: variant, policy version, tenant, user, and the run input. */
  readonly context: string;
  readonly metric: string;
  /** The quality score from feedback. */
  readonly quality: number;
  readonly costUsd: number;
  /** quality - costWeight x costUsd. */
  readonly reward: number;
  readonly ts: number;
}

/**
 * The policy-update target of governance rules (`llm-orchestrator/governance`, `applyGovernanceUpdate`):
 * updates with it carry a rules document for the policy guards, not a topology's policy, so feedback
 * loops leave them alone.
 *
 * @example
 * ```ts
 * if (update.target === GOVERNANCE_POLICY_TARGET) applyGovernanceUpdate(policyGuard, update);
 * ```
 */
export const GOVERNANCE_POLICY_TARGET = 'governance';

/**
 * A policy update from the optimizer.
 *
 * @example
 * ```ts
 * const temperature = JSON.parse(policy.params.temperature ?? 'null');
 * ```
 */
export interface PolicyUpdateMessage {
  readonly policyId: string;
  readonly version: number;
  readonly target: string;
  readonly params: Readonly<Record<string, string>>;
  readonly reason: string | null;
  readonly ts: number;
}

/**
 * An audit record: who did what, to which run of which tenant, when (v2 adds `tenant`,
 * `requestId` and `topology`; v3 adds `user` and the hash chain `stream`, `seq`, `prevHash`,
 * `hash`, see `AuditRecord` in `llm-orchestrator/governance`). Older data reads the added
 * fields as null: such a record belongs to no chain.
 *
 * @example
 * ```ts
 * await transport.send('audit', [{ key: runId, value: {
 *   ts: Date.now(), actor: 'ops@example.com', action: 'cancel', runId, details: '{"why":"stuck"}',
 *   tenant: 'acme', requestId: null, topology: 'rag',
 * } }]);
 * ```
 */
export interface AuditMessage {
  /** When, epoch ms. */
  readonly ts: number;
  /** Who: a user, service or worker id. */
  readonly actor: string;
  /** What, e.g. `cancel`, `policy.apply`. */
  readonly action: string;
  readonly runId: string | null;
  /** JSON of the particulars. */
  readonly details: string;
  /** v2 fields below: always set when read; null when the writer omitted them or wrote v1. */
  readonly tenant?: string | null;
  readonly requestId?: string | null;
  readonly topology?: string | null;
  /** v3 fields below: always set when read; null when the writer omitted them or wrote v1/v2. */
  readonly user?: string | null;
  /** The hash chain (a tenant or `global`); null for a record outside any chain. */
  readonly stream?: string | null;
  /** Position in the stream, from 0 without gaps. */
  readonly seq?: number | null;
  /** Hash of the stream's previous record. */
  readonly prevHash?: string | null;
  /** SHA-256 (hex) of the canonical JSON of the record's other fields. */
  readonly hash?: string | null;
}

/**
 * A message that could not be read (or handled), with the reason (v2; v1 data reads with
 * `truncated: false, originalSize: null`).
 *
 * @example
 * ```ts
 * transport.read('deadLetter', { fromBeginning: true }).subscribe((m) => console.warn(m.value.topic, m.value.reason, m.value.truncated));
 * ```
 */
export interface DeadLetterMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly reason: string;
  readonly key: Buffer | null;
  /** The original payload, or its first bytes when `truncated`. */
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly ts: number;
  /** Whether the payload (or the key or headers) was cut so the dead letter fits the size limit. Read: always set; written: default false. */
  readonly truncated?: boolean;
  /** Bytes of the original payload (null when it had none). Read: always set; written: default null. */
  readonly originalSize?: number | null;
}

/**
 * One node of a run to execute in another worker group.
 *
 * @example
 * ```ts
 * const deps = JSON.parse(task.deps) as Record<string, unknown>;
 * ```
 */
export interface NodeTaskMessage {
  readonly taskId: string;
  readonly runId: string;
  readonly topology: string;
  readonly group: string;
  readonly nodeId: string;
  readonly input: string;
  readonly deps: string;
  readonly priority: string;
  readonly deadline: number | null;
  readonly origin: string;
}

/**
 * The outcome of a remote node task.
 *
 * @example
 * ```ts
 * const output = result.ok ? JSON.parse(result.output ?? 'null') : undefined;
 * ```
 */
export interface NodeResultMessage {
  readonly taskId: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly ok: boolean;
  readonly output: string | null;
  readonly error: string | null;
  readonly worker: string;
}

/**
 * A signal for a run parked on a `wait` node: what `engine.signal(runId, name, payload)` does in
 * one process, as a message (topic `<prefix>.signals`, keyed by run id). A worker with a run store
 * consumes it, resumes the run and publishes the run's result under `requestId` (default: the run id,
 * which is the request id of a run a worker started). See `createWorker` and `client.signal`.
 *
 * @example
 * ```ts
 * await transport.send('signal', [{ key: runId, value: {
 *   signalId: randomUUID(), runId, name: 'approval', payload: JSON.stringify({ approved: true, by: 'ana' }), ts: Date.now(),
 * } }]);
 * ```
 */
export interface SignalMessage {
  /** Unique per signal; a signal sent again keeps its id. */
  readonly signalId: string;
  readonly runId: string;
  /** The wait's signal name. */
  readonly name: string;
  /** JSON text of the payload (validated by the wait node's zod schema when the run resumes). */
  readonly payload: string;
  /** When it was sent, epoch ms. */
  readonly ts: number;
  /** The request whose result the resumed run answers. Read: always set (null when omitted: the run id is used). */
  readonly requestId?: string | null;
  /** Read: always set (null when omitted). */
  readonly tenant?: string | null;
}

/**
 * Lifecycle event type a worker publishes (keyed by run id) when it refuses a signal message: an
 * unknown run, a payload the wait's schema refuses, another wait's name. `data` is JSON
 * `{ signalId, name, code, message, issues? }`; the signal goes to the dead-letter topic with the reason.
 *
 * @example
 * ```ts
 * if (event.type === SIGNAL_REJECTED) console.warn(JSON.parse(event.data).message);
 * ```
 */
export const SIGNAL_REJECTED = 'signal.rejected';

/**
 * Error code of the interim answer to a request whose run parked on a `wait` node: the result is
 * `failed` with this code (run-result v1 has no `waiting` status). The final result of the request
 * follows on the result topic once a signal resumed the run and it ended (see {@link isParkedResult}).
 *
 * @example
 * ```ts
 * if (JSON.parse(result.error ?? '{}').code === RUN_PARKED) console.log('waiting for a signal');
 * ```
 */
export const RUN_PARKED = 'RUN_PARKED';

/**
 * Whether a result is the interim answer of a parked run (failed with code {@link RUN_PARKED}),
 * not the request's final result.
 *
 * @example
 * ```ts
 * if (isParkedResult(result)) await client.signal(result.runId, 'approval', { approved: true, by: 'ana' });
 * ```
 */
export function isParkedResult(result: RunResultMessage): boolean {
  if (result.status !== 'failed' || result.error === null) return false;
  try {
    return (JSON.parse(result.error) as { code?: unknown } | null)?.code === RUN_PARKED;
  } catch {
    return false; // an error that is not JSON is not the worker's parked answer
  }
}

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

/**
 * Semantic checks of inbound feedback beyond the Avro shape.
 *
 * @example
 * ```ts
 * FeedbackSchema.safeParse(feedback).success;
 * ```
 */
export const FeedbackSchema = z.object({
  feedbackId: z.string().min(1),
  topology: z.string().min(1),
  metric: z.string().min(1),
  score: z.number().finite(),
  source: z.string().min(1),
  ts: z.number().nonnegative(),
}).loose();

/**
 * Semantic checks of inbound policy updates beyond the Avro shape.
 *
 * @example
 * ```ts
 * PolicyUpdateSchema.safeParse(policy).success;
 * ```
 */
export const PolicyUpdateSchema = z.object({
  policyId: z.string().min(1),
  version: z.number().int().nonnegative(),
  target: z.string().min(1),
  params: z.record(z.string(), z.string().refine((v) => { try { JSON.parse(v); return true; } catch { return false; } }, 'must be JSON text')),
}).loose();


/**
 * Semantic checks of inbound signals beyond the Avro shape: ids and name set, `payload` JSON text
 * (whether it fits the wait node's schema is checked when the run resumes).
 *
 * @example
 * ```ts
 * SignalSchema.safeParse(signal).success;
 * ```
 */
export const SignalSchema = z.object({
  signalId: z.string().min(1),
  runId: z.string().min(1),
  name: z.string().min(1),
  payload: z.string().refine((v) => { try { JSON.parse(v); return true; } catch { return false; } }, 'must be JSON text'),
  ts: z.number().nonnegative(),
}).loose();
