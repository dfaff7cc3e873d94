/**
 * A bounded, ordered send queue for the messages a worker's feedback loop emits
 * (evaluation requests, experience records). Pushing never blocks (the loop emits
 * synchronously as runs end); `ready()` waits while `maxQueued` messages or more
 * wait, so the worker admits no new run meanwhile (as with its token publisher).
 * One send is in flight at a time and what queued meanwhile leaves together, so
 * order per key holds. A failed send is tried again with a doubling backoff while
 * it is retriable; what still fails is counted as lost and turns the health
 * component `loop.publisher` down (degraded for a refused record, e.g. too large),
 * never only a log line.
 * @module
 */
import { isOrchestratorError, retriableOf } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../primitives/sleep.ts';
import type { HealthBoard } from '../transports/health.ts';
import type { Messages } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

/**
 * The kinds an outbox sends.
 *
 * @example
 * ```ts
 * const kind: OutboxKind = 'evaluation';
 * ```
 */
export type OutboxKind = 'evaluation' | 'experience';

/**
 * Options of {@link createOutbox}.
 *
 * @example
 * ```ts
 * const options: OutboxOptions = { logger, health: board, maxQueued: 1000 };
 * ```
 */
export interface OutboxOptions {
  readonly logger: Logger;
  /** Where the component `loop.publisher` reports. */
  readonly health?: HealthBoard | undefined;
  /** `ready()` waits while this many messages or more wait. Default 1000. */
  readonly maxQueued?: number | undefined;
  /** Tries of a failed send after the first. Default 8. */
  readonly retries?: number | undefined;
  /** First wait before a retry, ms, doubled up to 5000. Default 200. */
  readonly retryDelayMs?: number | undefined;
  /** Most messages in one send. Default 500. */
  readonly maxBatch?: number | undefined;
}

/**
 * A running outbox.
 *
 * @example
 * ```ts
 * outbox.push('evaluation', request.runId, request);
 * await outbox.flush();
 * ```
 */
export interface Outbox {
  push<K extends OutboxKind>(kind: K, key: string, value: Messages[K]): void;
  /** Resolves when fewer than `maxQueued` messages wait. */
  ready(): Promise<void>;
  /** Resolves when everything pushed so far was sent (or counted lost). */
  flush(): Promise<void>;
  /** Sent so far, by kind. */
  readonly sent: Readonly<Record<OutboxKind, number>>;
  /** Messages that could not be sent after the retries. */
  readonly lost: number;
  readonly queued: number;
}

interface Item {
  readonly kind: OutboxKind;
  readonly key: string;
  readonly value: Messages[OutboxKind];
}

const PART = 'loop.publisher';

/**
 * Creates an outbox sending through `transport`.
 *
 * @example
 * ```ts
 * const outbox = createOutbox(transport, { logger, health: board });
 * loop.evaluations$.subscribe((e) => outbox.push('evaluation', e.runId, e));
 * ```
 */
export function createOutbox(transport: Pick<Transport, 'send'>, options: OutboxOptions): Outbox {
  const maxQueued = options.maxQueued ?? 1000;
  const retries = options.retries ?? 8;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxBatch = options.maxBatch ?? 500;
  const health = options.health;
  const log = options.logger;
  const sent: Record<OutboxKind, number> = { evaluation: 0, experience: 0 };
  let lost = 0;
  const queue: Item[] = [];
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  let sending: Promise<void> | undefined;
  const queued = (): number => queue.length + inFlight;
  const wake = (): void => {
    if (waiters.length === 0 || queued() >= maxQueued) return;
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  };
  const send = (kind: OutboxKind, part: readonly Item[]): Promise<void> => (kind === 'evaluation'
    ? transport.send('evaluation', part.map((m) => ({ key: m.key, value: m.value as Messages['evaluation'] })))
    : transport.send('experience', part.map((m) => ({ key: m.key, value: m.value as Messages['experience'] }))));
  const deliver = async (kind: OutboxKind, part: readonly Item[]): Promise<unknown> => {
    let delay = retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await send(kind, part);
        return undefined;
      } catch (e) {
        const retriable = !isOrchestratorError(e) || e.retriable || retriableOf(e);
        if (!retriable || attempt >= retries) return e;
        health?.set(PART, 'degraded', `retrying ${part.length} ${kind} message(s): ${(e as Error).message}`);
        await sleep(delay);
        delay = Math.min(5000, delay * 2);
      }
    }
  };
  const sendOrLose = async (kind: OutboxKind, part: readonly Item[]): Promise<void> => {
    const e = await deliver(kind, part);
    if (e === undefined) {
      sent[kind] += part.length;
      health?.set(PART, 'up');
      return;
    }
    // one refused record (e.g. too large) must not take the others with it
    if (part.length > 1 && isOrchestratorError(e) && !e.retriable) {
      for (const one of part) await sendOrLose(kind, [one]);
      return;
    }
    lost += part.length;
    const refused = isOrchestratorError(e) && !e.retriable;
    health?.set(PART, refused ? 'degraded' : 'down', `${part.length} ${kind} message(s) lost (${lost} so far): ${(e as Error).message}`);
    log.error({ err: e, kind, messages: part.length, lost }, 'publishing loop messages failed; messages lost');
  };
  const pump = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      inFlight = batch.length;
      for (let i = 0; i < batch.length;) {
        const kind = batch[i]!.kind;
        let j = i;
        while (j < batch.length && batch[j]!.kind === kind) j++;
        await sendOrLose(kind, batch.slice(i, j));
        inFlight -= j - i;
        wake();
        i = j;
      }
    }
  };
  health?.set(PART, 'up');
  return {
    push(kind, key, value) {
      queue.push({ kind, key, value });
      sending ??= pump().finally(() => { sending = undefined; });
    },
    ready: () => (queued() < maxQueued ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    async flush() {
      while (sending !== undefined) await sending;
    },
    get sent() { return { ...sent }; },
    get lost() { return lost; },
    get queued() { return queued(); },
  };
}
