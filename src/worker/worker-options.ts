/**
 * Options of a worker (`createWorker`): the zod schema that checks them, the
 * type derived from it, and the guards that recognise an engine, a transport,
 * a topology and a feedback loop among them.
 * @module
 */
import * as z from 'zod';
import type { AnyTopology } from '../definition/types.ts';
import { isLogger, type Logger } from '../logger.ts';
import type { FeedbackLoop } from '../loops/types.ts';
import type { Engine } from '../runtime/engine.ts';
import type { Transport } from '../transports/transport.ts';
import { isTraceSource, type TraceSource } from './trace-headers.ts';

const isEngine = (v: unknown): v is Engine => typeof (v as Engine | null)?.run === 'function' && typeof (v as Engine).events$ === 'object';
const isTransport = (v: unknown): v is Transport => typeof (v as Transport | null)?.consume === 'function' && typeof (v as Transport).send === 'function';
const isTopology = (v: unknown): v is AnyTopology => typeof (v as AnyTopology | null)?.name === 'string' && Array.isArray((v as AnyTopology).nodes);
const isLoop = (v: unknown): v is FeedbackLoop => typeof (v as FeedbackLoop | null)?.applyPolicy === 'function' && typeof (v as FeedbackLoop).feedback === 'function'
  && typeof (v as FeedbackLoop).evaluations$?.subscribe === 'function' && typeof (v as FeedbackLoop).experience$?.subscribe === 'function';

/**
 * zod schema of {@link WorkerOptions}: the source of truth of its shape.
 *
 * @example
 * ```ts
 * const parsed = WorkerOptionsSchema.safeParse({ engine, transport, topologies: [rag] });
 * if (!parsed.success) console.error(parsed.error.issues);
 * ```
 */
export const WorkerOptionsSchema = z.strictObject({
  engine: z.custom<Engine>(isEngine, 'expected an engine (createEngine())'),
  transport: z.custom<Transport>(isTransport, 'expected a transport (createMemoryTransport() or createKafkaTransport())'),
  /** Topologies this worker serves, by name. */
  topologies: z.array(z.custom<AnyTopology>(isTopology, 'expected a topology (topology(...).build())')).min(1),
  /**
   * Consumer group. Default `<prefix>-workers.<sorted served topology names>` (see `workerGroup`):
   * one group per deployment and prefix. Workers of one group must serve the same topologies.
   */
  group: z.string().min(1).optional(),
  /** Largest request input (JSON text, UTF-8 bytes); a bigger one gets a failed result `INPUT_TOO_LARGE`. Default 1 MiB. */
  maxInputBytes: z.number().int().positive().optional(),
  /** Runs in flight at most. Default 16. */
  maxInFlight: z.number().int().positive().optional(),
  /** Default `<hostname>-<pid>`. */
  workerId: z.string().min(1).optional(),
  /** Publish tokens and lifecycle events. Default true. */
  publish: z.boolean().optional(),
  /** Consume feedback and policy topics. Default true (a worker with a `loop` needs them). */
  inbound: z.boolean().optional(),
  /**
   * The feedback loop the engine was created with (`createEngine({ loop })`; pass the same one). The worker
   * applies the policies topic to it (all of it before serving), gives it every feedback message and publishes
   * its evaluation requests and experience records (see src/worker/loop.ts). Default: none.
   */
  loop: z.custom<FeedbackLoop>(isLoop, 'expected a feedback loop (createLoop())').optional(),
  /** Where the worker's groups start when they have no committed offset (ConsumeOptions `offsetReset`). Default: the transport's. */
  offsetReset: z.enum(['earliest', 'latest']).optional(),
  /**
   * With an engine that has a run store: longest a request waits for its run while another live
   * process holds it (then it is answered `RUN_HELD`), and longest a signal waits for its run to
   * reach its wait (then it is tried again, then dead-lettered), ms. Default 300,000.
   */
  heldWaitMs: z.number().int().positive().optional(),
  /** Longest a token waits before its batch is published, ms. Default 50. */
  lingerMs: z.number().nonnegative().optional(),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  /**
   * The telemetry attached to this worker's engine (`createTelemetry().attach(engine)`): token batches carry
   * the W3C context of their node's span, results that of the request. A request's own `traceparent` header
   * parents its run's span whether or not this is given.
   */
  telemetry: z.custom<TraceSource>(isTraceSource, 'expected telemetry (createTelemetry()) or { traceContext(runId, nodeId?) }').optional(),
});

/**
 * Options of `createWorker`, derived from {@link WorkerOptionsSchema} so the two cannot drift.
 *
 * @example
 * ```ts
 * const options: WorkerOptions = { engine, transport, topologies: [rag], maxInFlight: 8 };
 * ```
 */
export type WorkerOptions = z.input<typeof WorkerOptionsSchema>;
