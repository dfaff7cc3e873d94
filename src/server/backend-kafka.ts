/**
 * A run backend on a Kafka worker group: the server sends each run as a request (its
 * request id is the run id, so workers with the shared store record it under that id),
 * follows its tokens from the token topic and answers with the worker's result. Run
 * history, lists and stream resume come from the store the workers share with the server.
 * Cancel has no message on Kafka: it answers false (409). Forks run in the server's own
 * engine over the shared store, when one is given.
 * @module
 */
import { EMPTY, Subject, catchError, concatMap, exhaustMap, from, merge, takeUntil, timer, type Observable, type Subscription } from 'rxjs';
import type { Logger } from '../logger.ts';
import { silentLogger } from '../logger.ts';
import type { AnyTopology } from '../definition/types.ts';
import { ValidationError, type SerializedError } from '../errors.ts';
import type { Engine } from '../runtime/engine.ts';
import type { EngineEvent } from '../runtime/events.ts';
import { isParkedResult, type RunResultMessage } from '../transports/messages.ts';
import type { Client } from '../worker/client.ts';
import { outcomeOf, type RunBackend, type RunOutcome, type StartedRun } from './backend.ts';

/**
 * What {@link createKafkaBackend} is built from.
 *
 * @example
 * ```ts
 * const options: KafkaBackendOptions = { client: createClient(transport), topologies: [rag], engine };
 * ```
 */
export interface KafkaBackendOptions {
  /** A client of the worker group (its transport's topics). */
  readonly client: Client;
  /** The topologies the workers serve (their names route the requests). */
  readonly topologies: readonly AnyTopology[];
  /**
   * An engine on the store the workers share: forks run on it, and a followed run's lifecycle
   * events are read from its store (the token topic carries tokens only). Without one, a fork is
   * refused and a followed run shows its tokens alone until it ends.
   */
  readonly engine?: Engine;
  /** How often a followed run's new stored events are read (ms). Default 250. */
  readonly pollMs?: number;
  readonly logger?: Logger;
}

const parse = (s: string | null): unknown => {
  if (s === null) return undefined;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
};

/**
 * A worker's result as a {@link RunOutcome}; a parked run's interim answer is `waiting`.
 *
 * @example
 * ```ts
 * const outcome = outcomeOfMessage(await client.submit('rag', input));
 * ```
 */
export function outcomeOfMessage(m: RunResultMessage): RunOutcome {
  const status = isParkedResult(m) ? 'waiting' : m.status;
  const error = parse(m.error) as SerializedError | undefined;
  return {
    runId: m.runId, topology: m.topology, status, usage: m.usage, startedAt: m.startedAt, endedAt: m.endedAt,
    ...(status === 'completed' ? { output: parse(m.output) } : error === undefined ? {} : { error }),
  };
}

/**
 * Runs on a Kafka worker group through `client`.
 *
 * @example
 * ```ts
 * const backend = createKafkaBackend({ client: createClient(transport), topologies: [rag], engine });
 * ```
 */
export function createKafkaBackend(o: KafkaBackendOptions): RunBackend {
  const byName = new Map(o.topologies.map((t) => [t.name, t] as const));
  const flights = new Map<string, { readonly events: Subject<EngineEvent>; readonly ended: Subject<void>; readonly follow: Subscription }>();
  const log = o.logger ?? silentLogger;
  const pollMs = o.pollMs ?? 250;
  const end = (runId: string): void => {
    const f = flights.get(runId);
    if (f === undefined) return;
    flights.delete(runId);
    f.follow.unsubscribe();
    f.ended.next();
    f.ended.complete();
    f.events.complete();
  };
  /** The run's stored events as they are recorded by the worker, while someone follows it. */
  const recorded = (runId: string): Observable<EngineEvent> => {
    const runs = o.engine?.runs;
    if (runs === undefined) return EMPTY;
    let last = -1;
    return timer(0, pollMs).pipe(
      exhaustMap(() => from(runs.history(runId, { fromSeq: last + 1 })).pipe(catchError((e: unknown) => {
        // not stored yet (the worker has not created it) or the store hiccuped: read again next time
        if ((e as { code?: unknown }).code !== 'RUN_NOT_FOUND') log.warn({ err: e, runId }, 'following a run sent to the workers: reading its events from the store failed');
        return EMPTY;
      }))),
      concatMap((events) => {
        if (events.length > 0) last = events[events.length - 1]!.seq;
        return from(events as unknown as EngineEvent[]);
      }),
    );
  };
  return {
    kind: 'kafka',
    topologies: byName,
    start(r): StartedRun {
      const events = new Subject<EngineEvent>();
      // tokens are read from now: follow before the request leaves
      const follow = o.client.tokens(r.runId).subscribe({
        next: (e) => {
          if (e.type === 'tokens') {
            e.tokens.forEach((text, i) => events.next({ type: 'node.token', runId: e.runId, topology: r.topology, nodeId: e.nodeId, index: e.firstIndex + i, text, ts: Date.now() }));
          } else if (e.type === 'restart') {
            events.next({ type: 'node.restart', runId: e.runId, topology: r.topology, nodeId: e.nodeId, reason: e.reason, ts: Date.now() });
          }
        },
        error: () => end(r.runId),
      });
      flights.set(r.runId, { events, ended: new Subject<void>(), follow });
      const done = o.client.submit(r.topology, r.input, {
        requestId: r.runId, tenant: r.tenant, ...(r.user === undefined ? {} : { user: r.user }),
      }).then(outcomeOfMessage, (e: unknown): RunOutcome => ({
        runId: r.runId, topology: r.topology, status: 'failed',
        error: { name: 'OrchestratorError', code: 'SUBMIT_FAILED', message: `the request could not be sent to the workers: ${(e as Error).message}`, retriable: true },
      })).finally(() => end(r.runId));
      return { runId: r.runId, done };
    },
    live(runId) {
      const f = flights.get(runId);
      return f === undefined ? EMPTY : merge(f.events, recorded(runId).pipe(takeUntil(f.ended)));
    },
    holds: (runId) => flights.has(runId),
    // with the store the workers share: the worker holding the run cancels it at its next lease renewal
    async cancel(runId, reason) {
      if (o.engine === undefined) return false;
      const receipt = await o.engine.cancel(runId, reason === undefined ? {} : { reason });
      return receipt.requestedOf === undefined ? {} : { requestedOf: receipt.requestedOf };
    },
    async signal(runId, name, payload) {
      await o.client.signal(runId, name, payload);
    },
    fork(runId, options) {
      if (o.engine === undefined) {
        throw new ValidationError('FORK_INVALID', 'forks need an engine on the store the workers share', [{ code: 'unsupported', path: ['backend'], message: 'this server sends runs to Kafka workers without a shared store: it cannot fork' }]);
      }
      const id = options.runId ?? crypto.randomUUID();
      return { runId: id, done: o.engine.fork(runId, { ...options, runId: id }).then(outcomeOf) };
    },
    ready: () => o.client.failure === undefined,
    async close() {
      for (const id of [...flights.keys()]) end(id);
    },
  };
}
