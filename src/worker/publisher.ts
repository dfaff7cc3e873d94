/**
 * Publishes an engine's tokens and lifecycle events to a transport. Tokens of
 * one node of one run are gathered into small batches (at most `maxBatch`
 * tokens, at most `lingerMs` old) so throughput is not spent at one message per
 * token; every send goes through one queue, so nothing is reordered, and what
 * queues up while a send is in flight goes out together in the next one.
 * @module
 */
import type { Observable, Subscription } from 'rxjs';
import type { Logger } from '../logger.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { LifecycleEventMessage, TokenBatchMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

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
  readonly logger: Logger;
}

/** A running publisher. */
export interface Publisher {
  /** Sends what is buffered and waits for every send so far. */
  flush(): Promise<void>;
  /** Stops listening, then flushes. */
  close(): Promise<void>;
}

interface Pending {
  runId: string;
  nodeId: string;
  firstIndex: number;
  tokens: string[];
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
  const tokens = new Map<string, Pending>();
  let events: { key: string; value: LifecycleEventMessage }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const log = options.logger;
  const ids = (runId: string, parentRunId?: string | null): { requestId: string | null; attempt: number } => {
    const i = options.identify?.(runId) ?? (parentRunId == null ? undefined : options.identify?.(parentRunId));
    return { requestId: i?.requestId ?? null, attempt: i?.attempt ?? 1 };
  };
  // One send in flight; messages queued meanwhile leave together in the next (consecutive runs of a kind).
  let outgoing: { kind: 'token' | 'event'; key: string; value: TokenBatchMessage | LifecycleEventMessage }[] = [];
  let sending: Promise<void> | undefined;
  const pump = async (): Promise<void> => {
    while (outgoing.length > 0) {
      const batch = outgoing;
      outgoing = [];
      for (let i = 0; i < batch.length;) {
        const kind = batch[i]!.kind;
        let j = i;
        while (j < batch.length && batch[j]!.kind === kind) j++;
        const part = batch.slice(i, j);
        try {
          if (kind === 'token') await transport.send('token', part.map((m) => ({ key: m.key, value: m.value as TokenBatchMessage })));
          else await transport.send('event', part.map((m) => ({ key: m.key, value: m.value as LifecycleEventMessage })));
        } catch (e) {
          log.error({ err: e, kind, messages: part.length }, 'publishing failed');
        }
        i = j;
      }
    }
  };
  const enqueue = (kind: 'token' | 'event', key: string, value: TokenBatchMessage | LifecycleEventMessage): void => {
    outgoing.push({ kind, key, value });
    sending ??= pump().finally(() => { sending = undefined; });
  };
  const drained = async (): Promise<void> => {
    while (sending !== undefined) await sending;
  };
  const flushTokens = (key: string): void => {
    const p = tokens.get(key);
    if (p === undefined || p.tokens.length === 0) return;
    tokens.delete(key);
    const value: TokenBatchMessage = { runId: p.runId, nodeId: p.nodeId, firstIndex: p.firstIndex, tokens: p.tokens, restart: null, ts: Date.now(), ...ids(p.runId) };
    enqueue('token', p.runId, value);
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
      if (p === undefined) tokens.set(key, (p = { runId: e.runId, nodeId: e.nodeId, firstIndex: e.index, tokens: [] }));
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
    if (e.type === 'breaker.state' || options.lifecycle === false) return;
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
  };
}
