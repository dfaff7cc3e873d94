/**
 * A worker: consumes run requests from a transport in a consumer group, runs
 * them on its engine with at most `maxInFlight` at once, publishes each result
 * (then lets the request's offset be committed: at-least-once), and streams
 * tokens and lifecycle events. It also exposes the inbound evaluation-feedback
 * and policy-update streams, typed and validated.
 * @module
 */
import { hostname } from 'node:os';
import { Subject, type Observable } from 'rxjs';
import { isLogger, silentLogger, type Logger } from '../logger.ts';
import * as z from 'zod';
import { ValidationError, serializeError, toIssues } from '../errors.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { Engine } from '../runtime/engine.ts';
import type { FeedbackMessage, PolicyUpdateMessage, RunRequestMessage, RunResultMessage } from '../transports/messages.ts';
import { createHealthBoard, mergeHealth, type Health } from '../transports/health.ts';
import type { Consumption, Transport } from '../transports/transport.ts';
import { publishEvents, type Publisher } from './publisher.ts';

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

const isEngine = (v: unknown): v is Engine => typeof (v as Engine | null)?.run === 'function' && typeof (v as Engine).events$ === 'object';
const isTransport = (v: unknown): v is Transport => typeof (v as Transport | null)?.consume === 'function' && typeof (v as Transport).send === 'function';
const isTopology = (v: unknown): v is AnyTopology => typeof (v as AnyTopology | null)?.name === 'string' && Array.isArray((v as AnyTopology).nodes);

/** zod schema of {@link WorkerOptions}: the source of truth of its shape. */
export const WorkerOptionsSchema = z.strictObject({
  engine: z.custom<Engine>(isEngine, 'expected an engine (createEngine())'),
  transport: z.custom<Transport>(isTransport, 'expected a transport (createMemoryTransport() or createKafkaTransport())'),
  /** Topologies this worker serves, by name. */
  topologies: z.array(z.custom<AnyTopology>(isTopology, 'expected a topology (topology(...).build())')).min(1),
  /** Consumer group. Default `llmo-workers`. */
  group: z.string().min(1).optional(),
  /** Runs in flight at most. Default 16. */
  maxInFlight: z.number().int().positive().optional(),
  /** Default `<hostname>-<pid>`. */
  workerId: z.string().min(1).optional(),
  /** Publish tokens and lifecycle events. Default true. */
  publish: z.boolean().optional(),
  /** Consume feedback and policy topics. Default true. */
  inbound: z.boolean().optional(),
  /** Where the worker's groups start when they have no committed offset (ConsumeOptions `offsetReset`). Default: the transport's. */
  offsetReset: z.enum(['earliest', 'latest']).optional(),
  /** Longest a token waits before its batch is published, ms. Default 50. */
  lingerMs: z.number().nonnegative().optional(),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
});

/**
 * Options of {@link createWorker}, derived from {@link WorkerOptionsSchema} so the two cannot drift.
 *
 * @example
 * ```ts
 * const options: WorkerOptions = { engine, transport, topologies: [rag], maxInFlight: 8 };
 * ```
 */
export type WorkerOptions = z.input<typeof WorkerOptionsSchema>;

/** A running worker. */
export interface Worker {
  readonly id: string;
  /** Evaluation feedback arriving on the feedback topic (validated). */
  readonly feedback$: Observable<FeedbackMessage>;
  /** Policy updates arriving on the policy topic (validated). */
  readonly policies$: Observable<PolicyUpdateMessage>;
  /** Health of the worker's own parts (`worker.*`, e.g. its publisher) and of its transport (`transport.*`). */
  readonly health: Health;
  /** Runs in flight now. */
  readonly inFlight: number;
  /** Requests handled so far. */
  readonly handled: number;
  /** Starts consuming. */
  start(): Promise<void>;
  /** Stops taking requests, lets those in flight finish and publish, flushes. */
  stop(): Promise<void>;
}

/**
 * Creates a worker. Throws a ValidationError naming a bad option.
 *
 * @example
 * ```ts
 * const worker = createWorker({ engine, transport: createKafkaTransport({ brokers }), topologies: [rag], maxInFlight: 8 });
 * await worker.start();
 * ```
 */
export function createWorker(options: WorkerOptions): Worker {
  const parsed = WorkerOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'createWorker options are invalid', toIssues(parsed.error.issues, ['options']));
  const { engine, transport } = options;
  const id = options.workerId ?? `${hostname()}-${process.pid}`;
  const group = options.group ?? 'llmo-workers';
  const log = (options.logger ?? silentLogger).child({ component: 'worker', worker: id });
  const byName = new Map(options.topologies.map((t) => [t.name, t]));
  const feedback$ = new Subject<FeedbackMessage>();
  const policies$ = new Subject<PolicyUpdateMessage>();
  const consumptions: Consumption[] = [];
  let publisher: Publisher | undefined;
  let handled = 0;
  const board = createHealthBoard();
  const health = mergeHealth({ worker: board, transport: transport.health });

  const fail = (req: RunRequestMessage, code: string, message: string): RunResultMessage => ({
    requestId: req.requestId, runId: '', topology: req.topology, status: 'failed', output: null, outputs: '{}',
    error: JSON.stringify({ name: 'ValidationError', code, message, retriable: false }),
    usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 },
    worker: id, startedAt: Date.now(), endedAt: Date.now(),
  });

  const handle = async (req: RunRequestMessage): Promise<void> => {
    const t = byName.get(req.topology);
    let result: RunResultMessage;
    if (t === undefined) {
      result = fail(req, 'UNKNOWN_TOPOLOGY', `this worker group serves ${[...byName.keys()].join(', ')}, not '${req.topology}'`);
    } else {
      const parsedInput = parseJson(req.input);
      if (!parsedInput.ok) result = fail(req, 'INPUT_INVALID', `input is not JSON: ${parsedInput.reason}`);
      else {
        const r = await engine.run(t, parsedInput.value, {
          priority: req.priority,
          ...(req.tenant === null ? {} : { tenant: req.tenant }),
          ...(req.deadlineMs === null ? {} : { deadlineMs: req.deadlineMs }),
        });
        const u = r.usage;
        result = {
          requestId: req.requestId, runId: r.runId, topology: r.topology, status: r.status,
          output: r.output === undefined ? null : JSON.stringify(r.output),
          outputs: JSON.stringify(r.outputs),
          error: r.error === undefined ? null : JSON.stringify(serializeError(r.error)),
          usage: { inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedTokens: u.cachedTokens, reasoningTokens: u.reasoningTokens, costUsd: u.costUsd, calls: u.calls },
          worker: id, startedAt: r.startedAt, endedAt: r.endedAt,
        };
      }
    }
    await publisher?.flush(); // a result never overtakes its run's tokens and events
    await transport.send('result', [{ key: req.requestId, value: result }]);
    handled++;
  };

  return {
    id,
    feedback$: feedback$.asObservable(),
    policies$: policies$.asObservable(),
    health,
    get inFlight() { return consumptions[0]?.inFlight ?? 0; },
    get handled() { return handled; },
    async start() {
      if (options.publish !== false) publisher = publishEvents(engine.events$, transport, { logger: log, ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }) });
      const reset = options.offsetReset === undefined ? {} : { offsetReset: options.offsetReset };
      consumptions.push(await transport.consume('request', { group, maxInFlight: options.maxInFlight ?? 16, ...reset }, (m) => handle(m.value)));
      if (options.inbound !== false) {
        consumptions.push(await transport.consume('feedback', { group: `${group}.feedback`, maxInFlight: 64, ...reset }, async (m) => feedback$.next(m.value)));
        consumptions.push(await transport.consume('policy', { group: `${group}.policies`, maxInFlight: 64, ...reset }, async (m) => policies$.next(m.value)));
      }
      board.set('requests', 'up');
      log.info({ group, topologies: [...byName.keys()] }, 'worker started');
    },
    async stop() {
      await Promise.all(consumptions.map((c) => c.stop()));
      consumptions.length = 0;
      board.set('requests', 'down', 'worker stopped');
      await publisher?.close();
      feedback$.complete();
      policies$.complete();
      log.info({ handled }, 'worker stopped');
    },
  };
}
