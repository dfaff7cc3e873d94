/**
 * Following a request's tokens across attempts, for `client.tokens(requestId)`.
 * Reads the token and lifecycle-event topics from now (shared by every followed
 * request of a client, started on the first follow) and turns them into one
 * stream per request:
 *
 * - a `request.attempt` event (keyed by request id, so a request's attempts
 *   arrive in order) starts an attempt; the attempt before it, if still open,
 *   is closed as `abandoned` (superseded: e.g. its worker crashed and the
 *   request was redelivered) and its late tokens are dropped;
 * - tokens of a run whose attempt event has not arrived yet (the two topics are
 *   read independently) wait for it;
 * - a run end marker (`ended` / `abandoned`) closes a run's token stream;
 * - the result completes the stream once its run's `ended` marker arrived, so
 *   every token of the answering run was delivered before `result`.
 * @module
 */
import type { Subscriber, Subscription } from 'rxjs';
import { REQUEST_ATTEMPT, RUN_ABANDONED, RUN_ENDED, isRunEndMarker, type LifecycleEventMessage, type RunResultMessage, type TokenBatchMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

/**
 * What `client.tokens(requestId)` emits.
 *
 * @example
 * ```ts
 * client.tokens(id).subscribe((e) => {
 *   if (e.type === 'attempt') screen.clear();
 *   else if (e.type === 'tokens') screen.write(e.tokens.join(''));
 *   else if (e.type === 'result') screen.done(e.result.status);
 * });
 * ```
 */
export type RequestStreamEvent =
  /** A worker started an attempt at the request (run `runId`); tokens that follow belong to it. */
  | { readonly type: 'attempt'; readonly requestId: string; readonly runId: string; readonly attempt: number; readonly worker: string | null }
  /** Consecutive tokens of one node of the current attempt. */
  | { readonly type: 'tokens'; readonly runId: string; readonly nodeId: string; readonly firstIndex: number; readonly tokens: readonly string[] }
  /** A node of the current attempt restarted its call: its tokens start again from index 0. */
  | { readonly type: 'restart'; readonly runId: string; readonly nodeId: string; readonly reason: string }
  /** An attempt ended without a result: given up by its worker (`abandoned`) or replaced by a new attempt (`superseded`). */
  | { readonly type: 'abandoned'; readonly runId: string; readonly reason: 'abandoned' | 'superseded' }
  /** The request's result; the last event. */
  | { readonly type: 'result'; readonly result: RunResultMessage };

/** State of one follower of one request. */
class Follow {
  #current: string | undefined;
  readonly #closed = new Set<string>();
  readonly #ended = new Set<string>();
  readonly #pending = new Map<string, TokenBatchMessage[]>();
  #result: RunResultMessage | undefined;

  constructor(readonly requestId: string, readonly out: Subscriber<RequestStreamEvent>) {}

  attempt(e: LifecycleEventMessage): void {
    const runId = e.runId;
    if (runId === this.#current || this.#closed.has(runId)) return; // a duplicate
    if (this.#current !== undefined) this.#close(this.#current, 'superseded');
    this.#current = runId;
    let worker: string | null = null;
    try {
      const data = JSON.parse(e.data) as { worker?: unknown };
      if (typeof data.worker === 'string') worker = data.worker;
    } catch {
      // data is the worker's JSON; an unreadable one only loses the worker's name
    }
    this.out.next({ type: 'attempt', requestId: this.requestId, runId, attempt: e.attempt ?? 1, worker });
    const waiting = this.#pending.get(runId) ?? [];
    this.#pending.delete(runId);
    for (const b of waiting) this.token(b);
  }

  token(b: TokenBatchMessage): void {
    if (isRunEndMarker(b) && b.restart === RUN_ENDED) this.#ended.add(b.runId);
    if (this.#closed.has(b.runId)) return; // a closed attempt's late tokens
    if (b.runId !== this.#current) {
      const list = this.#pending.get(b.runId);
      if (list === undefined) this.#pending.set(b.runId, [b]);
      else list.push(b);
      return;
    }
    if (isRunEndMarker(b)) {
      if (b.restart === RUN_ABANDONED) this.#close(b.runId, 'abandoned');
      else this.#complete();
      return;
    }
    if (b.restart !== null) this.out.next({ type: 'restart', runId: b.runId, nodeId: b.nodeId, reason: b.restart });
    else this.out.next({ type: 'tokens', runId: b.runId, nodeId: b.nodeId, firstIndex: b.firstIndex, tokens: b.tokens });
  }

  result(r: RunResultMessage): void {
    this.#result ??= r;
    this.#complete();
  }

  #close(runId: string, reason: 'abandoned' | 'superseded'): void {
    this.#closed.add(runId);
    this.#pending.delete(runId);
    if (this.#current === runId) this.#current = undefined;
    this.out.next({ type: 'abandoned', runId, reason });
  }

  /** Completes once the result is in and its run's tokens are complete (or it had no run). */
  #complete(): void {
    const r = this.#result;
    if (r === undefined || this.out.closed) return;
    if (r.runId !== '' && !this.#ended.has(r.runId)) return;
    if (r.runId === this.#current) this.#current = undefined;
    this.out.next({ type: 'result', result: r });
    this.out.complete();
  }
}

/**
 * The shared readers of a client's followed requests.
 *
 * @example
 * ```ts
 * const follower = createFollower(transport, (id) => results.get(id));
 * const teardown = follower.follow(requestId, subscriber);
 * ```
 */
export interface Follower {
  /** Follows `requestId` into `subscriber` (starts the shared readers on first use); returns the teardown. */
  follow(requestId: string, subscriber: Subscriber<RequestStreamEvent>): () => void;
  /** Feeds a result (from the client's result reader). */
  result(r: RunResultMessage): void;
  /** Resolves once the shared readers are positioned (at once when nothing is followed). */
  ready(): Promise<void>;
  /** Errors every follower. */
  fail(e: unknown): void;
  /** Stops the shared readers. */
  close(): void;
}

/**
 * Creates the follower of a client. `answered` gives a result the client already has.
 *
 * @example
 * ```ts
 * const follower = createFollower(transport, (id) => results.get(id));
 * ```
 */
export function createFollower(transport: Transport, answered: (requestId: string) => RunResultMessage | undefined): Follower {
  const follows = new Map<string, Set<Follow>>();
  let readers: { subs: Subscription[]; ready: Promise<void> } | undefined;
  const each = (requestId: string | null | undefined, f: (x: Follow) => void): void => {
    if (requestId === null || requestId === undefined) return;
    for (const x of follows.get(requestId) ?? []) f(x);
  };
  const failAll = (e: unknown): void => {
    for (const set of follows.values()) for (const x of set) x.out.error(e);
    follows.clear();
  };
  const start = (): void => {
    if (readers !== undefined) return;
    let pending = 2;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    ready.catch(() => undefined);
    const onReady = (): void => { if (--pending === 0) resolve(); };
    const error = (e: unknown): void => {
      reject(e);
      failAll(e);
    };
    const subs = [
      transport.read('token', { fromBeginning: false, onReady }).subscribe({ next: (m) => each(m.value.requestId, (x) => x.token(m.value)), error }),
      transport.read('event', { fromBeginning: false, onReady }).subscribe({
        next: (m) => { if (m.value.type === REQUEST_ATTEMPT) each(m.value.requestId, (x) => x.attempt(m.value)); },
        error,
      }),
    ];
    readers = { subs, ready };
  };
  return {
    follow(requestId, subscriber) {
      const done = answered(requestId);
      if (done !== undefined) {
        subscriber.next({ type: 'result', result: done });
        subscriber.complete();
        return () => undefined;
      }
      start();
      const x = new Follow(requestId, subscriber);
      let set = follows.get(requestId);
      if (set === undefined) follows.set(requestId, (set = new Set()));
      set.add(x);
      return () => {
        set.delete(x);
        if (set.size === 0) follows.delete(requestId);
      };
    },
    result: (r) => each(r.requestId, (x) => x.result(r)),
    ready: () => readers?.ready ?? Promise.resolve(),
    fail: failAll,
    close() {
      for (const s of readers?.subs ?? []) s.unsubscribe();
      readers = undefined;
    },
  };
}
