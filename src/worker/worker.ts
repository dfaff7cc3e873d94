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
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Subject, type Observable } from 'rxjs';
import { silentLogger } from '../logger.ts';
import { isOrchestratorError, isStoreError, ValidationError, toIssues } from '../errors.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { RunResult } from '../runtime/result.ts';
import { RUN_ABANDONED, RUN_ENDED, type FeedbackMessage, type PolicyUpdateMessage, type RunRequestMessage, type RunResultMessage } from '../transports/messages.ts';
import { createHealthBoard, mergeHealth, type Health } from '../transports/health.ts';
import type { Consumption } from '../transports/transport.ts';
import { createDurableRequests } from './durable.ts';
import { workerGroup } from './groups.ts';
import { linkLoop, type LoopLink, type LoopLinkStats } from './loop.ts';
import { publishEvents, type Publisher } from './publisher.ts';
import { createSignalHandler, type SignalStats } from './signals.ts';
import { traceHeaders } from './trace-headers.ts';
import { attemptEvent, createDeliveryCounter, endMarkerBatch } from './worker-identity.ts';
import { readInput } from './worker-input.ts';
import { WorkerOptionsSchema, type WorkerOptions } from './worker-options.ts';
import { failedResult, publishResult, resultMessage } from './worker-results.ts';
import { traceContextOf, type TraceContext } from '../runtime/trace-context.ts';
import { context } from '@opentelemetry/api';
import { contextOfTrace } from '../observability/w3c.ts';

export { WorkerOptionsSchema, type WorkerOptions } from './worker-options.ts';

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
  /** Counts the deliveries of each request id to this worker (the most recent 10,000 ids). */
  const countDelivery = createDeliveryCounter(10_000);
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

  const fail = (req: RunRequestMessage, code: string, message: string, retriable = false): RunResultMessage =>
    failedResult(req, id, code, message, retriable);

  /** The run's last token message: its tokens are complete (`ended`) or it was given up (`abandoned`). */
  const endMarker = async (runId: string, requestId: string, attempt: number, how: typeof RUN_ENDED | typeof RUN_ABANDONED): Promise<void> => {
    if (!publish) return;
    await publisher?.flush(); // after the run's last tokens
    await transport.send('token', [{ key: runId, value: endMarkerBatch(runId, requestId, attempt, how) }]);
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
    await transport.send('event', [{ key: req.requestId, value: attemptEvent(req.requestId, runId, topology, attempt, id) }]);
  };

  const message = (req: RunRequestMessage, r: RunResult): RunResultMessage => resultMessage(req, r, id);

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
    const read = readInput(req.input, maxInputBytes);
    if (!read.ok) result = fail(req, read.code, read.message);
    else result = durable === undefined ? await attemptRun(req, t, read.value) : await durable.attempt(req, t, read.value);
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
    await publishResult(transport, req, result, { workerId: id, log, headers: traceHeaders(traces.get(req)) });
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
