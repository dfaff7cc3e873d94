/**
 * A client of a worker group: submits run requests and resolves each with its
 * result (duplicates from redelivery are dropped by request id), and follows a
 * request's tokens across attempts (`tokens(requestId)`).
 *
 * Results are read from "now": the client's reader is positioned at the result
 * topic's end offsets before any request is sent (`submit` waits for it), so no
 * result of a request sent through the client is missed, and start-up does not
 * read the topic's history.
 *
 * Parked runs: a request whose run parks on a `wait` node (a worker with a run
 * store) is first answered with an **interim** result, `failed` with error code
 * `RUN_PARKED` (`isParkedResult`); once a signal resumed the run (`client.signal`,
 * a message on the signals topic) and it ended, its **final** result follows under
 * the same request id. The client keeps the latest answer per request: a final
 * result replaces an interim one (not counted as a duplicate); anything after the
 * final one is a duplicate. `submit` and `result` resolve with the first answer
 * (interim or final); with `{ final: true }` they keep waiting past `RUN_PARKED`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Observable, type Subscription } from 'rxjs';
import type { Priority } from '../definition/types.ts';
import { isParkedResult, type RunResultMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';
import { createFollower, type RequestStreamEvent } from './follow.ts';
import { toIssues, ValidationError } from '../errors.ts';
import { activeTraceContext } from '../observability/w3c.ts';
import { TraceContextSchema, type TraceContext } from '../runtime/trace-context.ts';
import { traceHeaders } from './trace-headers.ts';

/** The request's trace headers: the given trace context (validated) or the active span's. */
function traceOf(o: SubmitOptions): { headers?: Readonly<Record<string, string>> } {
  if (o.traceContext !== undefined) {
    const r = TraceContextSchema.safeParse(o.traceContext);
    if (!r.success) {
      throw new ValidationError('OPTIONS_INVALID', 'submit options are invalid', toIssues(r.error.issues, ['options', 'traceContext']));
    }
  }
  const headers = traceHeaders(o.traceContext ?? activeTraceContext());
  return headers === undefined ? {} : { headers };
}

export type { RequestStreamEvent } from './follow.ts';

/** Options of one submitted run. */
export interface SubmitOptions {
  readonly priority?: Priority;
  readonly tenant?: string;
  /** Who the run is for within its tenant (RunOptions `user`): experiments stick to it, evaluations carry it. */
  readonly user?: string;
  readonly deadlineMs?: number;
  readonly requestId?: string;
  /**
   * Resolve with the request's final result: when its run parks on a wait (an interim `RUN_PARKED`
   * answer), keep waiting until a signal resumed it and it ended. Default false: the first answer.
   */
  readonly final?: boolean;
  /**
   * The W3C trace context the run continues (its span's parent). Default: the span active where
   * `submit` is called, if any (`trace.getActiveSpan()`). Sent as the request's `traceparent` header.
   */
  readonly traceContext?: TraceContext;
}

/**
 * Options of {@link Client.signal}.
 *
 * @example
 * ```ts
 * await client.signal(runId, 'approval', { approved: true, by: 'ana' }, { signalId: 'approval-42' });
 * ```
 */
export interface SignalOptions {
  /** Unique id of the signal (send a signal again under the same id). Default a random UUID. */
  readonly signalId?: string;
  /** The request whose result the resumed run answers. Default the run id (a worker's runs have their request id as run id). */
  readonly requestId?: string;
  readonly tenant?: string;
}

/**
 * Options of {@link createClient}.
 *
 * @example
 * ```ts
 * const client = createClient(transport, { fromBeginning: true }); // also every past result
 * ```
 */
export interface ClientOptions {
  /** Read the result topic from its beginning (every past result lands in `results`). Default false: from now. */
  readonly fromBeginning?: boolean;
}

/** A client. */
export interface Client {
  /**
   * Sends a request once the client reads results; resolves with its first answer (with `final`:
   * its final result, past an interim `RUN_PARKED` one).
   */
  submit(topology: string, input: unknown, options?: SubmitOptions): Promise<RunResultMessage>;
  /**
   * Resolves with a request's answer: its first one (possibly the interim `RUN_PARKED` of a parked run),
   * or with `final` the first that is not `RUN_PARKED`. Only results read by this client count (it reads
   * from now unless `fromBeginning`): ask before the answer can arrive, e.g. before `signal`.
   */
  result(requestId: string, options?: { readonly final?: boolean }): Promise<RunResultMessage>;
  /**
   * Sends a signal for a parked run on the signals topic (keyed by run id); resolves with the signal's id
   * once it is sent. A worker with a run store resumes the run and publishes its final result under its
   * request id (`result(requestId, { final: true })`); a refused signal (unknown run, payload the wait's
   * schema refuses) goes to the dead-letter topic with the reason.
   */
  signal(runId: string, name: string, payload: unknown, options?: SignalOptions): Promise<string>;
  /** Sends many requests at once (one batch) once the client reads results; resolves their ids. */
  submitMany(topology: string, inputs: readonly unknown[], options?: Omit<SubmitOptions, 'requestId'>): Promise<string[]>;
  /**
   * Follows a request's tokens across attempts: `attempt` when a worker starts one, `tokens` and
   * `restart` of the current attempt, `abandoned` when an attempt is given up or superseded by a
   * new one (its later tokens are dropped), and `result` last, once the result and every token of
   * its run arrived; then it completes. Subscribe before submitting (the token and event topics
   * are read from now; `submit` waits until those readers are positioned too). A request already
   * answered gives its `result` alone. A request for a topology no worker serves waits: no worker
   * answers it (see `createWorker`).
   */
  tokens(requestId: string): Observable<RequestStreamEvent>;
  /** Resolves once results (and followed tokens) are read: whatever is sent from then on is seen. */
  ready(): Promise<void>;
  /** Answers seen so far, by request id: the first one, replaced by the final result when the first was `RUN_PARKED`. */
  readonly results: ReadonlyMap<string, RunResultMessage>;
  /** Results that arrived again for a request already answered (redelivery; a final result after an interim `RUN_PARKED` one is not one). */
  readonly duplicates: number;
  /** Result messages delivered by the transport so far (duplicates included). */
  readonly received: number;
  /**
   * Why the result stream ended (e.g. no broker reachable), once it has; then every pending and
   * later `submit` rejects with it. Undefined while results can still arrive.
   */
  readonly failure: unknown;
  /** Stops reading results; pending submits stay pending. */
  close(): Promise<void>;
}

/** One caller waiting for a request's answer. */
interface Waiter {
  readonly final: boolean;
  readonly resolve: (r: RunResultMessage) => void;
  readonly reject: (e: unknown) => void;
}

/** A promise with its settle functions. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined); // observed by whoever awaits it
  return { promise, resolve, reject };
}

/**
 * Creates a client. It reads the result topic from now (positioned before the first request
 * leaves), or from its beginning with `fromBeginning`; it keeps the first result per request id.
 *
 * @example
 * ```ts
 * const client = createClient(transport);
 * const result = await client.submit('rag', { question: 'Why?' });
 * ```
 */
export function createClient(transport: Transport, options: ClientOptions = {}): Client {
  const results = new Map<string, RunResultMessage>();
  /** Who waits for which request's answer: `final` waiters skip interim RUN_PARKED answers. */
  const waiting = new Map<string, Set<Waiter>>();
  const wait = (requestId: string, final: boolean): Promise<RunResultMessage> => new Promise<RunResultMessage>((resolve, reject) => {
    const seen = results.get(requestId);
    if (seen !== undefined && !(final && isParkedResult(seen))) resolve(seen);
    else if (failure !== undefined) reject(failure.error);
    else {
      let set = waiting.get(requestId);
      if (set === undefined) waiting.set(requestId, (set = new Set()));
      set.add({ final, resolve, reject });
    }
  });
  let duplicates = 0;
  let received = 0;
  let failure: { readonly error: unknown } | undefined;
  const resultsReady = deferred();
  // a parked request is not answered for good: following it follows the run a signal resumes
  const follower = createFollower(transport, (id) => { const r = results.get(id); return r === undefined || isParkedResult(r) ? undefined : r; });
  // With an error handler: a failing result stream rejects the waiting submits instead of
  // reaching RxJS's reportUnhandledError (an uncaught exception that kills the process).
  const sub: Subscription = transport.read('result', { fromBeginning: options.fromBeginning ?? false, onReady: resultsReady.resolve }).subscribe({
    next: (m) => {
      const r = m.value;
      received++;
      const seen = results.get(r.requestId);
      const parked = isParkedResult(r);
      // the first answer, or the final one after an interim RUN_PARKED; anything else is a duplicate
      if (seen !== undefined && (parked || !isParkedResult(seen))) {
        duplicates++;
        return;
      }
      results.set(r.requestId, r);
      const set = waiting.get(r.requestId);
      for (const w of set ?? []) {
        if (parked && w.final) continue;
        w.resolve(r);
        set!.delete(w);
      }
      if (set?.size === 0) waiting.delete(r.requestId);
      follower.result(r);
    },
    error: (e: unknown) => {
      failure = { error: e };
      resultsReady.reject(e);
      for (const set of waiting.values()) for (const w of set) w.reject(e);
      waiting.clear();
      follower.fail(e);
    },
  });
  const ready = async (): Promise<void> => {
    await resultsReady.promise;
    await follower.ready();
  };
  const request = (topology: string, input: unknown, o: SubmitOptions, requestId: string) => ({
    key: requestId,
    ...traceOf(o),
    value: {
      requestId, topology, input: JSON.stringify(input ?? null), priority: o.priority ?? 'normal',
      tenant: o.tenant ?? null, deadlineMs: o.deadlineMs ?? null, createdAt: Date.now(), user: o.user ?? null,
    },
  });
  return {
    results,
    get duplicates() { return duplicates; },
    get received() { return received; },
    get failure() { return failure?.error; },
    ready,
    tokens: (requestId) => new Observable<RequestStreamEvent>((subscriber) => follower.follow(requestId, subscriber)),
    async submit(topology, input, options = {}) {
      await ready();
      const requestId = options.requestId ?? randomUUID();
      const done = wait(requestId, options.final === true);
      done.catch(() => undefined); // observed below; never an unhandled rejection if send fails first
      try {
        await transport.send('request', [request(topology, input, options, requestId)]);
      } catch (e) {
        waiting.delete(requestId);
        throw e;
      }
      return done;
    },
    async result(requestId, o = {}) {
      await ready();
      return wait(requestId, o.final === true);
    },
    async signal(runId, name, payload, o = {}) {
      const signalId = o.signalId ?? randomUUID();
      await transport.send('signal', [{
        key: runId,
        value: { signalId, runId, name, payload: JSON.stringify(payload ?? null), ts: Date.now(), requestId: o.requestId ?? null, tenant: o.tenant ?? null },
      }]);
      return signalId;
    },
    async submitMany(topology, inputs, options = {}) {
      await ready();
      const reqs = inputs.map((input) => request(topology, input, options, randomUUID()));
      for (let i = 0; i < reqs.length; i += 500) await transport.send('request', reqs.slice(i, i + 500));
      return reqs.map((r) => r.key);
    },
    async close() {
      sub.unsubscribe();
      follower.close();
    },
  };
}
