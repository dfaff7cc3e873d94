/**
 * Publishes an engine's tokens and lifecycle events to a transport. Tokens of
 * one node of one run are gathered into small batches (at most `maxBatch`
 * tokens, at most `lingerMs` old) so throughput is not spent at one message per
 * token; every send goes through one queue, so nothing is reordered, and what
 * queues up while a send is in flight goes out together in the next one.
 *
 * A failed send is tried again (bounded, with backoff) before anything behind
 * it, so order per key holds; what still fails is counted as lost (`lost`) and
 * turns the health component `publisher` down, never only a log line. The queue
 * is bounded for admission: `ready()` waits while `maxQueued` messages or more
 * wait to be sent (runs in flight go on publishing; new ones wait).
 * @module
 */
import type { Observable, Subscription } from 'rxjs';
import { isOrchestratorError, retriableOf } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../primitives/sleep.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { HealthBoard } from '../transports/health.ts';
import type { LifecycleEventMessage, TokenBatchMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';
import { isLoopEvent } from '../runtime/loop.ts';
import { traceHeaders, type TraceSource } from './trace-headers.ts';

/** Options of {@link publishEvents}. */
export interface PublishOptions {
  /** Publish `node.token` / `node.restart` as token batches. Default true. */
  readonly tokens?: boolean;
  /** Publish lifecycle events. Default true. */
  readonly lifecycle?: boolean;
  /** Longest a token waits before its batch is sent, ms. Default 50 (real models stream a token every 10–50 ms). */
  readonly lingerMs?: number;
  /** Most tokens in one batch. Default 256. */
  readonly maxBatch?: number;
  /** The request and attempt a run serves (a worker's runs), carried on its token batches and events. */
  readonly identify?: (runId: string) => { readonly requestId: string; readonly attempt: number } | undefined;
  /** High-water mark of the send queue, messages: `ready()` waits while this many or more wait. Default 1000. */
  readonly maxQueued?: number;
  /** Tries of a failed send after the first, before its messages count as lost. Default 8. */
  readonly retries?: number;
  /** First wait before a retry, ms, doubled up to `maxRetryDelayMs`. Default 200. */
  readonly retryDelayMs?: number;
  /** Longest wait between retries, ms. Default 5000. */
  readonly maxRetryDelayMs?: number;
  /** Telemetry attached to the engine: each token batch carries the W3C context of its node's span (`traceparent` header). */
  readonly telemetry?: TraceSource;
  /** Where the component `publisher` reports its status (e.g. the worker's board). */
  readonly health?: HealthBoard;
  readonly logger: Logger;
}

/**
 * A running publisher.
 *
 * @example
 * ```ts
 * await publisher.ready(); // before starting a run: waits while the send queue is full
 * if (publisher.lost > 0) alert(`${publisher.lost} messages could not be published`);
 * ```
 */
export interface Publisher {
  /** Sends what is buffered and waits for every send so far. */
  flush(): Promise<void>;
  /** Stops listening, then flushes. */
  close(): Promise<void>;
  /** Resolves when fewer than `maxQueued` messages wait to be sent (at once when so now). */
  ready(): Promise<void>;
  /** Messages waiting to be sent or being sent now. */
  readonly queued: number;
  /** Messages (token batches and lifecycle events) that could not be published after the retries. */
  readonly lost: number;
}

interface Pending {
  runId: string;
  nodeId: string;
  firstIndex: number;
  tokens: string[];
  /** Trace headers of the node's span, taken when the batch began (the span may have ended by the flush). */
  headers: Readonly<Record<string, string>> | undefined;
}

/**
 * Starts publishing an engine's events.
 *
 * @example
 * ```ts
 * const pub = publishEvents(engine.events$, transport, { logger });
 * // ...
 * await pub.close();
 * ```
 */
export function publishEvents(events$: Observable<EngineEvent>, transport: Transport, options: PublishOptions): Publisher {
  const lingerMs = options.lingerMs ?? 50;
  const maxBatch = options.maxBatch ?? 256;
  const maxQueued = options.maxQueued ?? 1000;
  const retries = options.retries ?? 8;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
  const health = options.health;
  const telemetry = options.telemetry;
  let lost = 0;
  let inFlight = 0; // messages of the batch the pump is working on
  let waiters: (() => void)[] = [];
  const tokens = new Map<string, Pending>();
  let events: { key: string; value: LifecycleEventMessage }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const log = options.logger;
  const ids = (runId: string, parentRunId?: string | null): { requestId: string | null; attempt: number } => {
    const i = options.identify?.(runId) ?? (parentRunId == null ? undefined : options.identify?.(parentRunId));
    return { requestId: i?.requestId ?? null, attempt: i?.attempt ?? 1 };
  };
  // One send in flight; messages queued meanwhile leave together in the next (consecutive runs of a kind).
  let outgoing: { kind: 'token' | 'event'; key: string; value: TokenBatchMessage | LifecycleEventMessage; headers?: Readonly<Record<string, string>> }[] = [];
  let sending: Promise<void> | undefined;
  const queued = (): number => outgoing.length + inFlight;
  const wake = (): void => {
    if (waiters.length === 0 || queued() >= maxQueued) return;
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  };
  type Out = (typeof outgoing)[number];
  const sendPart = (kind: 'token' | 'event', part: readonly Out[]): Promise<void> =>
    kind === 'token'
      ? transport.send('token', part.map((m) => ({ key: m.key, value: m.value as TokenBatchMessage, ...(m.headers === undefined ? {} : { headers: m.headers }) })))
      : transport.send('event', part.map((m) => ({ key: m.key, value: m.value as LifecycleEventMessage })));
  /** Sends a part, trying again with backoff while the failure is retriable; resolves with the last error, if any. */
  const deliver = async (kind: 'token' | 'event', part: readonly Out[]): Promise<unknown> => {
    let delay = retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await sendPart(kind, part);
        if (attempt > 0) log.info({ kind, messages: part.length, attempt }, 'published after retrying');
        return undefined;
      } catch (e) {
        const retriable = !isOrchestratorError(e) || e.retriable || retriableOf(e);
        if (!retriable || attempt >= retries) return e;
        health?.set('publisher', 'degraded', `retrying ${part.length} ${kind} message(s): ${(e as Error).message}`);
        await sleep(delay);
        delay = Math.min(maxRetryDelayMs, delay * 2);
      }
    }
  };
  const loseOrSend = async (kind: 'token' | 'event', part: readonly Out[]): Promise<void> => {
    const e = await deliver(kind, part);
    if (e === undefined) {
      health?.set('publisher', 'up');
      return;
    }
    // A refusal of one record (e.g. too large) must not take the others of the part with it.
    if (part.length > 1 && isOrchestratorError(e) && !e.retriable) {
      for (const one of part) await loseOrSend(kind, [one]);
      return;
    }
    lost += part.length;
    const reason = `${part.length} ${kind} message(s) lost (${lost} so far): ${(e as Error).message}`;
    health?.set('publisher', isOrchestratorError(e) && !e.retriable ? 'degraded' : 'down', reason);
    log.error({ err: e, kind, messages: part.length, lost }, 'publishing failed; messages lost');
  };
  const pump = async (): Promise<void> => {
    while (outgoing.length > 0) {
      const batch = outgoing;
      outgoing = [];
      inFlight = batch.length;
      for (let i = 0; i < batch.length;) {
        const kind = batch[i]!.kind;
        let j = i;
        while (j < batch.length && batch[j]!.kind === kind) j++;
        await loseOrSend(kind, batch.slice(i, j));
        inFlight -= j - i;
        wake();
        i = j;
      }
    }
  };
  const enqueue = (kind: 'token' | 'event', key: string, value: TokenBatchMessage | LifecycleEventMessage, headers?: Readonly<Record<string, string>>): void => {
    outgoing.push(headers === undefined ? { kind, key, value } : { kind, key, value, headers });
    sending ??= pump().finally(() => { sending = undefined; });
  };
  health?.set('publisher', 'up');
  const drained = async (): Promise<void> => {
    while (sending !== undefined) await sending;
  };
  const flushTokens = (key: string): void => {
    const p = tokens.get(key);
    if (p === undefined || p.tokens.length === 0) return;
    tokens.delete(key);
    const value: TokenBatchMessage = { runId: p.runId, nodeId: p.nodeId, firstIndex: p.firstIndex, tokens: p.tokens, restart: null, ts: Date.now(), ...ids(p.runId) };
    enqueue('token', p.runId, value, p.headers);
  };
  const flushAll = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const key of [...tokens.keys()]) flushTokens(key);
    for (const e of events) enqueue('event', e.key, e.value);
    events = [];
  };
  const arm = (): void => {
    timer ??= setTimeout(flushAll, lingerMs);
  };

  const sub: Subscription = events$.subscribe((e) => {
    if (e.type === 'node.token') {
      if (options.tokens === false) return;
      const key = `${e.runId}\u0000${e.nodeId}`;
      let p = tokens.get(key);
      if (p !== undefined && p.firstIndex + p.tokens.length !== e.index) {
        flushTokens(key);
        p = undefined;
      }
      if (p === undefined) {
        const headers = telemetry === undefined ? undefined : traceHeaders(telemetry.traceContext(e.runId, e.nodeId));
        tokens.set(key, (p = { runId: e.runId, nodeId: e.nodeId, firstIndex: e.index, tokens: [], headers }));
      }
      p.tokens.push(e.text);
      if (p.tokens.length >= maxBatch) flushTokens(key);
      else arm();
      return;
    }
    if (e.type === 'node.restart') {
      if (options.tokens === false) return;
      const key = `${e.runId}\u0000${e.nodeId}`;
      flushTokens(key);
      const value: TokenBatchMessage = { runId: e.runId, nodeId: e.nodeId, firstIndex: 0, tokens: [], restart: e.reason, ts: e.ts, ...ids(e.runId) };
      enqueue('token', e.runId, value);
      return;
    }
    if (e.type === 'breaker.state' || e.type === 'model.call' || e.type === 'run.parked' || e.type === 'policy.decision' || isLoopEvent(e) || options.lifecycle === false) return;
    const { runId, topology, type, seq, ts, parentRunId, ...rest } = e;
    const nodeId = 'nodeId' in e ? e.nodeId : null;
    events.push({ key: runId, value: { runId, topology, type, seq, ts, nodeId, parentRunId: parentRunId ?? null, data: JSON.stringify(rest), ...ids(runId, parentRunId) } });
    if (events.length >= maxBatch) flushAll();
    else arm();
  });

  return {
    flush: async () => {
      flushAll();
      await drained();
    },
    close: async () => {
      sub.unsubscribe();
      flushAll();
      await drained();
    },
    ready: () => (queued() < maxQueued ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    get queued() { return queued(); },
    get lost() { return lost; },
  };
}
