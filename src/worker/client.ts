/**
 * A client of a worker group: submits run requests and resolves each with its
 * result (duplicates from redelivery are dropped by request id), and follows a
 * request's tokens across attempts (`tokens(requestId)`).
 *
 * Results are read from "now": the client's reader is positioned at the result
 * topic's end offsets before any request is sent (`submit` waits for it), so no
 * result of a request sent through the client is missed, and start-up does not
 * read the topic's history.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Observable, type Subscription } from 'rxjs';
import type { Priority } from '../definition/types.ts';
import type { RunResultMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';
import { createFollower, type RequestStreamEvent } from './follow.ts';

export type { RequestStreamEvent } from './follow.ts';

/** Options of one submitted run. */
export interface SubmitOptions {
  readonly priority?: Priority;
  readonly tenant?: string;
  readonly deadlineMs?: number;
  readonly requestId?: string;
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
  /** Sends a request once the client reads results; resolves with its first result. */
  submit(topology: string, input: unknown, options?: SubmitOptions): Promise<RunResultMessage>;
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
  /** Results seen so far, by request id (first one wins). */
  readonly results: ReadonlyMap<string, RunResultMessage>;
  /** Results that arrived again for a request already answered (redelivery). */
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
  const waiting = new Map<string, { resolve: (r: RunResultMessage) => void; reject: (e: unknown) => void }>();
  let duplicates = 0;
  let received = 0;
  let failure: { readonly error: unknown } | undefined;
  const resultsReady = deferred();
  const follower = createFollower(transport, (id) => results.get(id));
  // With an error handler: a failing result stream rejects the waiting submits instead of
  // reaching RxJS's reportUnhandledError (an uncaught exception that kills the process).
  const sub: Subscription = transport.read('result', { fromBeginning: options.fromBeginning ?? false, onReady: resultsReady.resolve }).subscribe({
    next: (m) => {
      const r = m.value;
      received++;
      if (results.has(r.requestId)) {
        duplicates++;
        return;
      }
      results.set(r.requestId, r);
      waiting.get(r.requestId)?.resolve(r);
      waiting.delete(r.requestId);
      follower.result(r);
    },
    error: (e: unknown) => {
      failure = { error: e };
      resultsReady.reject(e);
      for (const w of waiting.values()) w.reject(e);
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
    value: {
      requestId, topology, input: JSON.stringify(input ?? null), priority: o.priority ?? 'normal',
      tenant: o.tenant ?? null, deadlineMs: o.deadlineMs ?? null, createdAt: Date.now(),
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
      const done = new Promise<RunResultMessage>((resolve, reject) => {
        const seen = results.get(requestId);
        if (seen) resolve(seen);
        else if (failure !== undefined) reject(failure.error);
        else waiting.set(requestId, { resolve, reject });
      });
      done.catch(() => undefined); // observed below; never an unhandled rejection if send fails first
      try {
        await transport.send('request', [request(topology, input, options, requestId)]);
      } catch (e) {
        waiting.delete(requestId);
        throw e;
      }
      return done;
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
