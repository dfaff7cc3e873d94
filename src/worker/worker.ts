/**
 * A worker: consumes run requests from a transport in a consumer group, runs
 * them on its engine with at most `maxInFlight` at once, publishes each result
 * (then lets the request's offset be committed: at-least-once; a result too
 * large to publish is answered with a failed `RESULT_TOO_LARGE` result and its
 * request dead-lettered with that reason), and streams
 * tokens and lifecycle events. It also exposes the inbound evaluation-feedback
 * and policy-update streams, typed and validated.
 *
 * Routing: the default group is `<prefix>-workers.<sorted topologies served>`,
 * so every deployment (set of topologies) on a prefix has its own group and
 * sees every request; a worker acknowledges a request for a topology it does
 * not serve without answering (another deployment answers it). Workers that
 * share a group must serve the same topologies. A request for a topology no
 * deployment serves gets no answer: it waits (its submitter's deadline or
 * timeout decides).
 *
 * Identity: each attempt at a request gets a fresh run id (with a run store: the
 * request id, so a redelivered request resumes its run; see durable.ts); before the run the
 * worker publishes a `request.attempt` lifecycle event (keyed by request id),
 * its tokens and events carry `requestId` and `attempt` (deliveries of the
 * request to this worker so far), and after the run's last tokens it publishes
 * a run end marker (`ended`, or `abandoned` when it gives the run up), so a
 * reader following the request (`client.tokens`) knows when a run's tokens
 * are complete and when a new attempt replaces an earlier one.
 *
 * Signals: a worker with a run store also consumes the signals topic (group
 * `<group>.signals`): a signal message resumes a run parked on a `wait` node here
 * and its final result is published under its request id, after the interim
 * `RUN_PARKED` answer (see signals.ts; `worker.signals` counts them).
 *
 * Feedback loop: with `loop` (the same `FeedbackLoop` the engine was created
 * with), the worker applies the current policies from the compacted policies
 * topic before it serves its first request, applies later ones live, refuses
 * (and dead-letters) what the loop refuses, gives its loop every feedback message
 * of the deployment, and publishes the loop's evaluation requests and experience
 * records (see loop.ts).
 * @module
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Subject, type Observable } from 'rxjs';
import { isLogger, silentLogger, type Logger } from '../logger.ts';
import * as z from 'zod';
import { isOrchestratorError, isStoreError, OrchestratorError, ValidationError, serializeError, toIssues } from '../errors.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { Engine } from '../runtime/engine.ts';
import type { RunResult } from '../runtime/result.ts';
import { REQUEST_ATTEMPT, RUN_ABANDONED, RUN_ENDED, type FeedbackMessage, type PolicyUpdateMessage, type RunRequestMessage, type RunResultMessage } from '../transports/messages.ts';
import { createHealthBoard, mergeHealth, type Health } from '../transports/health.ts';
import type { Consumption, Transport } from '../transports/transport.ts';
import type { FeedbackLoop } from '../loops/types.ts';
import { createDurableRequests } from './durable.ts';
import { workerGroup } from './groups.ts';
import { linkLoop, type LoopLink, type LoopLinkStats } from './loop.ts';
import { publishEvents, type Publisher } from './publisher.ts';
import { createSignalHandler, type SignalStats } from './signals.ts';
import { isTraceSource, traceHeaders, type TraceSource } from './trace-headers.ts';
import { traceContextOf, type TraceContext } from '../runtime/trace-context.ts';
import { context } from '@opentelemetry/api';
import { contextOfTrace } from '../observability/w3c.ts';

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
const isLoop = (v: unknown): v is FeedbackLoop => typeof (v as FeedbackLoop | null)?.applyPolicy === 'function' && typeof (v as FeedbackLoop).feedback === 'function'
  && typeof (v as FeedbackLoop).evaluations$?.subscribe === 'function' && typeof (v as FeedbackLoop).experience$?.subscribe === 'function';

/** zod schema of {@link WorkerOptions}: the source of truth of its shape. */
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
  /** The consumer group of its requests. */
  readonly group: string;
  /**
   * Evaluation feedback arriving on the feedback topic (validated): shared by the workers of the group; with
   * a `loop`, every message (each worker reads them all, from its start on).
   */
  readonly feedback$: Observable<FeedbackMessage>;
  /**
   * Policy updates arriving on the policy topic (validated): shared by the workers of the group; with a
   * `loop`, every update from the oldest the topic holds, as it is applied to the loop.
   */
  readonly policies$: Observable<PolicyUpdateMessage>;
  /** Health of the worker's own parts (`worker.*`, e.g. its publisher) and of its transport (`transport.*`). */
  readonly health: Health;
  /** Runs in flight now. */
  readonly inFlight: number;
  /** Requests handled so far. */
  readonly handled: number;
  /** Requests acknowledged without an answer so far: their topology is another deployment's. */
  readonly skipped: number;
  /** Signal messages so far (a worker with a run store consumes the signals topic; see signals.ts). */
  readonly signals: SignalStats;
  /** Traffic of the worker's feedback loop (undefined without `loop`). */
  readonly loopStats: LoopLinkStats | undefined;
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
  if (options.loop !== undefined && options.inbound === false) {
    throw new ValidationError('OPTIONS_INVALID', 'createWorker options are invalid', [
      { code: 'custom', path: ['options', 'inbound'], message: 'a worker with a loop reads the feedback and policy topics: leave inbound on' },
    ]);
  }
  const { engine, transport } = options;
  const id = options.workerId ?? `${hostname()}-${process.pid}`;
  const group = options.group ?? workerGroup(transport.topics, options.topologies.map((t) => t.name));
  const maxInputBytes = options.maxInputBytes ?? 1024 * 1024;
  const publish = options.publish !== false;
  const log = (options.logger ?? silentLogger).child({ component: 'worker', worker: id });
  const byName = new Map(options.topologies.map((t) => [t.name, t]));
  const feedback$ = new Subject<FeedbackMessage>();
  const policies$ = new Subject<PolicyUpdateMessage>();
  const consumptions: Consumption[] = [];
  let publisher: Publisher | undefined;
  let handled = 0;
  let skipped = 0;
  /** Deliveries of each request id to this worker (the most recent 10,000 ids). */
  const deliveries = new Map<string, number>();
  /** Request and attempt of the runs in flight, for the publisher. */
  const runs = new Map<string, { readonly requestId: string; readonly attempt: number }>();
  /** The trace context each request arrived with (its `traceparent` header), for its runs and its answer. */
  const traces = new WeakMap<RunRequestMessage, TraceContext>();
  const board = createHealthBoard();
  const health = mergeHealth({ worker: board, transport: transport.health });
  const link: LoopLink | undefined = options.loop === undefined ? undefined : linkLoop({
    loop: options.loop, transport, group, health: board, logger: log, feedback$, policies$,
    ...(options.offsetReset === undefined ? {} : { offsetReset: options.offsetReset }),
  });

  const fail = (req: RunRequestMessage, code: string, message: string, retriable = false): RunResultMessage => ({
    requestId: req.requestId, runId: '', topology: req.topology, status: 'failed', output: null, outputs: '{}',
    error: JSON.stringify({ name: retriable ? 'OrchestratorError' : 'ValidationError', code, message, retriable }),
    usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 },
    worker: id, startedAt: Date.now(), endedAt: Date.now(),
  });

  const countDelivery = (requestId: string): number => {
    const n = (deliveries.get(requestId) ?? 0) + 1;
    deliveries.delete(requestId); // re-inserted last: the map's order is recency
    deliveries.set(requestId, n);
    if (deliveries.size > 10_000) deliveries.delete(deliveries.keys().next().value!);
    return n;
  };

  /** The run's last token message: its tokens are complete (`ended`) or it was given up (`abandoned`). */
  const endMarker = async (runId: string, requestId: string, attempt: number, how: typeof RUN_ENDED | typeof RUN_ABANDONED): Promise<void> => {
    if (!publish) return;
    await publisher?.flush(); // after the run's last tokens
    await transport.send('token', [{ key: runId, value: { runId, nodeId: '', firstIndex: 0, tokens: [], restart: how, ts: Date.now(), requestId, attempt } }]);
  };

  /** Counts a delivery of the request and tags the run's tokens and events with it; returns the attempt number. */
  const tag = (req: RunRequestMessage, runId: string, counted?: number): number => {
    const attempt = counted ?? countDelivery(req.requestId);
    runs.set(runId, { requestId: req.requestId, attempt });
    return attempt;
  };

  /** The `request.attempt` event: a reader following the request learns which run answers it. */
  const announce = async (req: RunRequestMessage, runId: string, topology: string, attempt: number): Promise<void> => {
    if (!publish) return;
    await transport.send('event', [{
      key: req.requestId,
      value: { runId, topology, type: REQUEST_ATTEMPT, seq: 0, ts: Date.now(), nodeId: null, parentRunId: null, data: JSON.stringify({ worker: id }), requestId: req.requestId, attempt },
    }]);
  };

  const message = (req: RunRequestMessage, r: RunResult): RunResultMessage => {
    const u = r.usage;
    return {
      // run-result v1 has no 'waiting': a run parked on a wait node is reported as not done (failed, its error RUN_PARKED)
      requestId: req.requestId, runId: r.runId, topology: r.topology, status: r.status === 'waiting' ? 'failed' : r.status,
      output: r.output === undefined ? null : JSON.stringify(r.output),
      outputs: JSON.stringify(r.outputs),
      error: r.error === undefined ? null : JSON.stringify(serializeError(r.error)),
      usage: { inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedTokens: u.cachedTokens, reasoningTokens: u.reasoningTokens, costUsd: u.costUsd, calls: u.calls },
      worker: id, startedAt: r.startedAt, endedAt: r.endedAt,
    };
  };

  /**
   * Runs one attempt at a request under `runId`; on a failure, marks the run abandoned and rethrows.
   * A run the store refused (`RUN_EXISTS`: another process has it) gets no end marker.
   */
  const runAttempt = async (req: RunRequestMessage, t: AnyTopology, input: unknown, runId: string): Promise<RunResult> => {
    await publisher?.ready(); // admission backpressure: a new run waits while the publish queue is full
    await link?.ready(); // ... or while the loop's outbox is
    const attempt = tag(req, runId);
    try {
      await announce(req, runId, t.name, attempt);
      const traceContext = traces.get(req);
      const r = await engine.run(t, input, {
        runId,
        priority: req.priority,
        ...(traceContext === undefined ? {} : { traceContext }),
        ...(req.tenant === null ? {} : { tenant: req.tenant }),
        ...(req.user === null || req.user === undefined ? {} : { user: req.user }),
        ...(req.deadlineMs === null ? {} : { deadlineMs: req.deadlineMs }),
      });
      if (!(isStoreError(r.error) && r.error.code === 'RUN_EXISTS')) await endMarker(runId, req.requestId, attempt, RUN_ENDED);
      return r;
    } catch (e) {
      await endMarker(runId, req.requestId, attempt, RUN_ABANDONED).catch((err: unknown) => log.error({ err, runId }, 'could not mark an abandoned run'));
      throw e;
    } finally {
      runs.delete(runId);
    }
  };

  /** Runs one attempt at a request under a fresh run id (a worker without a store). */
  const attemptRun = async (req: RunRequestMessage, t: AnyTopology, input: unknown): Promise<RunResultMessage> =>
    message(req, await runAttempt(req, t, input, randomUUID()));

  // With a store, a request's run id is its request id: a redelivered request resumes or republishes its run (durable.ts).
  const store = engine.store;
  const durable = store === undefined ? undefined : createDurableRequests({
    engine, store, log, health: board, workerId: id, heldWaitMs: options.heldWaitMs ?? 300_000,
    run: runAttempt, tag, announce, message,
    endMarker: (req, runId, attempt, how) => endMarker(runId, req.requestId, attempt, how),
    untag: (runId) => runs.delete(runId),
    failed: (req, code, msg, retriable) => fail(req, code, msg, retriable),
  });

  const handle = async (req: RunRequestMessage): Promise<void> => {
    const t = byName.get(req.topology);
    if (t === undefined) {
      skipped++; // another deployment's topology: its own group answers it
      return;
    }
    let result: RunResultMessage;
    const size = Buffer.byteLength(req.input, 'utf8');
    if (size > maxInputBytes) {
      result = fail(req, 'INPUT_TOO_LARGE', `input is ${size} bytes, over the limit of ${maxInputBytes} bytes (maxInputBytes)`);
    } else {
      const parsedInput = parseJson(req.input);
      if (!parsedInput.ok) result = fail(req, 'INPUT_INVALID', `input is not JSON: ${parsedInput.reason}`);
      else result = durable === undefined ? await attemptRun(req, t, parsedInput.value) : await durable.attempt(req, t, parsedInput.value);
    }
    try {
      await answer(req, result);
    } catch (e) {
      if (isOrchestratorError(e) && e.code === 'RESULT_TOO_LARGE') handled++; // answered, with a failed result
      throw e;
    }
    handled++;
  };

  /**
   * Publishes a request's result after its run's tokens and events. A result too large to publish is
   * answered with a failed `RESULT_TOO_LARGE` result, and this rejects non-retriably (the message is dead-lettered).
   */
  const answer = async (req: RunRequestMessage, result: RunResultMessage): Promise<void> => {
    await publisher?.flush(); // a result never overtakes its run's tokens and events
    const headers = traceHeaders(traces.get(req));
    try {
      await transport.send('result', [{ key: req.requestId, value: result, ...(headers === undefined ? {} : { headers }) }]);
    } catch (e) {
      // too large to publish: the client still gets an answer, a failed result that says why
      if (!(isOrchestratorError(e) && e.code === 'KAFKA_RECORD_TOO_LARGE')) throw e;
      log.error({ err: e, requestId: req.requestId }, 'result too large to publish; publishing a failed result');
      const message = `the result cannot be published: ${e.message}`;
      await transport.send('result', [{ key: req.requestId, value: { ...fail(req, 'RESULT_TOO_LARGE', message), runId: result.runId, startedAt: result.startedAt } }]);
      // ... and the request (or signal) goes to the dead-letter topic with the reason, not run again (the same run
      // would make the same result): a non-retriable rejection is dead-lettered at once (Transport.consume).
      throw new OrchestratorError('RESULT_TOO_LARGE', `request ${req.requestId}: ${message}`, { retriable: false, cause: e });
    }
  };

  // With a store, signal messages resume parked runs here and answer their requests (signals.ts).
  const signals = store === undefined ? undefined : createSignalHandler({
    engine, store, transport, log, served: new Set(byName.keys()), heldWaitMs: options.heldWaitMs ?? 300_000,
    tag: (req, runId) => tag(req, runId), untag: (runId) => runs.delete(runId), announce,
    endMarker: (req, runId, attempt, how) => endMarker(runId, req.requestId, attempt, how),
    message, answer,
  });

  return {
    id,
    group,
    feedback$: feedback$.asObservable(),
    policies$: policies$.asObservable(),
    health,
    get inFlight() { return consumptions[0]?.inFlight ?? 0; },
    get handled() { return handled; },
    get skipped() { return skipped; },
    get signals() { return { ...(signals?.stats ?? { resumed: 0, duplicates: 0, rejected: 0, skipped: 0, elsewhere: 0 }) }; },
    get loopStats() { return link?.stats; },
    async start() {
      if (publish) {
        publisher = publishEvents(engine.events$, transport, {
          logger: log, health: board, identify: (runId) => runs.get(runId), ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
          ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
        });
      }
      const reset = options.offsetReset === undefined ? {} : { offsetReset: options.offsetReset };
      await link?.start(); // the current policies are applied before the first request is taken
      consumptions.push(await transport.consume('request', { group, maxInFlight: options.maxInFlight ?? 16, ...reset }, (m) => {
        const tc = traceContextOf(m.headers);
        if (tc === undefined) return handle(m.value);
        traces.set(m.value, tc);
        // the request's span context is active while it is handled: log lines carry its trace id
        const parent = contextOfTrace(tc);
        return parent === undefined ? handle(m.value) : context.with(parent, () => handle(m.value));
      }));
      if (signals !== undefined) {
        consumptions.push(await transport.consume('signal', { group: `${group}.signals`, maxInFlight: options.maxInFlight ?? 16, ...reset, essential: false }, (m) => signals.handle(m.value)));
      }
      if (options.inbound !== false && link === undefined) {
        consumptions.push(await transport.consume('feedback', { group: `${group}.feedback`, maxInFlight: 64, ...reset, essential: false }, async (m) => feedback$.next(m.value)));
        consumptions.push(await transport.consume('policy', { group: `${group}.policies`, maxInFlight: 64, ...reset, essential: false }, async (m) => policies$.next(m.value)));
      }
      board.set('requests', 'up');
      log.info({ group, topologies: [...byName.keys()] }, 'worker started');
    },
    async stop() {
      await Promise.all(consumptions.map((c) => c.stop()));
      consumptions.length = 0;
      board.set('requests', 'down', 'worker stopped');
      await publisher?.close();
      await link?.stop();
      feedback$.complete();
      policies$.complete();
      log.info({ handled }, 'worker stopped');
    },
  };
}
