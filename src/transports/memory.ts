/**
 * The in-memory transport: the embedded default. Same semantics as Kafka where
 * it matters (per-kind logs, consumer groups that share messages, a bounded
 * number of handlers in flight, failing handlers tried again then dead-lettered,
 * dead-lettering of invalid inbound messages, a message whose dead-lettering
 * failed delivered again),
 * with no services. Messages are copied through the Avro codec, so what works
 * here encodes on Kafka too.
 * @module
 */
import { Observable, Subject } from 'rxjs';
import { silentLogger, type Logger } from '../logger.ts';
import { Codec, createCodec } from './codec.ts';
import { checkMessage } from './checks.ts';
import { sleep } from '../primitives/sleep.ts';
import { reasonOf, runAttempts } from './attempts.ts';
import { resolveConsumeOptions } from './consume-options.ts';
import { DeliveryCounter } from './deliveries.ts';
import type { WireFormat } from './framing.ts';
import { createHealthBoard, type HealthBoard, type TransportEvent } from './health.ts';
import type { MessageKind, Messages } from './messages.ts';
import { topicNames, type Consumption, type ConsumeHandler, type ConsumeOptions, type Envelope, type OutMessage, type ReadOptions, type TopicNames, type Transport } from './transport.ts';

interface Stored {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
  readonly offset: number;
}

interface Group {
  next: number;
  /** Messages to deliver again before `next` (their dead-lettering failed). */
  readonly again: Stored[];
  readonly members: Set<() => void>;
}

/**
 * Options of {@link createMemoryTransport}.
 *
 * @example
 * ```ts
 * createMemoryTransport({ prefix: 'test', logger });
 * ```
 */
export interface MemoryTransportOptions {
  readonly prefix?: string;
  readonly logger?: Logger;
  readonly codec?: Codec;
  /**
   * What the transport writes (when no codec is given): `llmo` (default) or `single-object`; it reads every
   * framing. `schema-registry` needs a registry, so a codec made with one (`createCodec({ wireFormat, registry })`, then `prepare`).
   */
  readonly wireFormat?: Exclude<WireFormat, 'schema-registry'>;
}

class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly topics: TopicNames;
  readonly #codec: Codec;
  readonly #log: Logger;
  readonly #logs = new Map<MessageKind, Stored[]>();
  readonly #appended = new Map<MessageKind, Subject<Stored>>();
  readonly #groups = new Map<string, Group>();
  readonly #board: HealthBoard = createHealthBoard();
  readonly #events = new Subject<TransportEvent>();
  readonly health = this.#board;
  readonly events$ = this.#events.asObservable();

  constructor(options: MemoryTransportOptions) {
    this.topics = topicNames(options.prefix);
    this.#codec = options.codec ?? createCodec(options.wireFormat === undefined ? {} : { wireFormat: options.wireFormat });
    this.#log = (options.logger ?? silentLogger).child({ component: 'memory-transport' });
  }

  #logOf(kind: MessageKind): Stored[] {
    let l = this.#logs.get(kind);
    if (l === undefined) this.#logs.set(kind, (l = []));
    return l;
  }

  #subject(kind: MessageKind): Subject<Stored> {
    let s = this.#appended.get(kind);
    if (s === undefined) this.#appended.set(kind, (s = new Subject()));
    return s;
  }

  async send<K extends MessageKind>(kind: K, messages: readonly OutMessage<Messages[K]>[]): Promise<void> {
    this.appendRaw(kind, messages.map((m) => {
      const e = this.#codec.encode(kind, m.value);
      return { key: m.key, value: e.value, headers: m.headers === undefined ? e.headers : { ...m.headers, ...e.headers } };
    }));
  }

  /** Appends already-encoded messages (also used by tests to inject malformed ones). */
  appendRaw(kind: MessageKind, messages: readonly { key: string; value: Buffer; headers: Record<string, string> }[]): void {
    const log = this.#logOf(kind);
    const subject = this.#subject(kind);
    for (const m of messages) {
      const stored: Stored = { ...m, offset: log.length };
      log.push(stored);
      subject.next(stored);
    }
    for (const [k, g] of this.#groups) if (k.startsWith(`${kind}\u0000`)) for (const wake of g.members) wake();
  }

  #decode<K extends MessageKind>(kind: K, s: Stored): { ok: true; value: Messages[K] } | { ok: false; reason: string } {
    const d = this.#codec.decode(kind, s.value, s.headers);
    if (!d.ok) return d;
    const reason = checkMessage(kind, d.value);
    return reason === undefined ? d : { ok: false, reason };
  }

  #deadLetter(kind: MessageKind, s: Stored, reason: string): void {
    this.#log.warn({ kind, offset: s.offset, reason }, 'dead-lettering a message');
    this.appendRaw('deadLetter', [{
      key: s.key,
      ...this.#codec.encode('deadLetter', {
        topic: this.topics[kind], partition: 0, offset: String(s.offset), reason,
        key: Buffer.from(s.key), value: s.value, headers: s.headers, ts: Date.now(),
      }),
    }]);
    this.#events.next({ type: 'dead-lettered', topic: this.topics[kind], partition: 0, offset: String(s.offset), reason, truncated: false, ts: Date.now() });
  }

  async consume<K extends MessageKind>(kind: K, options: ConsumeOptions, handler: ConsumeHandler<Messages[K]>): Promise<Consumption> {
    const o = resolveConsumeOptions(options);
    const topic = this.topics[kind];
    const groupKey = `${kind}\u0000${o.group}`;
    let group = this.#groups.get(groupKey);
    if (group === undefined) {
      group = { next: o.offsetReset === 'latest' ? this.#logOf(kind).length : 0, again: [], members: new Set() };
      this.#groups.set(groupKey, group);
    }
    const g = group;
    const log = this.#logOf(kind);
    const component = `consumer:${topic}:${o.group}`;
    const deliveries = new DeliveryCounter();
    this.#board.set(component, 'up');
    let inFlight = 0;
    let stopped = false;
    let idle: (() => void) | undefined;
    const now = Date.now;
    // A message is done when handled or dead-lettered; one whose dead-lettering failed comes again (like an uncommitted Kafka record).
    const settle = (s: Stored, reason: string): boolean => {
      try {
        this.#deadLetter(kind, s, reason);
      } catch (e) {
        const why = `dead-lettering ${topic} offset ${s.offset} failed: ${reasonOf(e)}`;
        this.#log.error({ err: e, kind, offset: s.offset }, 'dead-lettering failed; the message comes again');
        undeliverable.add(s.offset);
        this.#board.set(component, 'down', why);
        this.#events.next({ type: 'dead-letter.failed', topic, partition: 0, offset: String(s.offset), reason: why, ts: now() });
        inFlight++; // the message is not done: hold its slot until it is queued again
        void sleep(o.retryBackoffMs).then(() => {
          g.again.push(s);
          inFlight--;
          if (stopped && inFlight === 0) idle?.();
          for (const wake of g.members) wake();
        });
        return false;
      }
      deliveries.forget(0, String(s.offset));
      return true;
    };
    // down while a message whose dead-lettering failed is not done
    const undeliverable = new Set<number>();
    const done = (s: Stored): void => {
      if (undeliverable.delete(s.offset) && undeliverable.size === 0) this.#board.set(component, 'up');
    };
    const handle = async (s: Stored, value: Messages[K]): Promise<void> => {
      const offset = String(s.offset);
      const outcome = await runAttempts({ key: s.key, value, partition: 0, offset, headers: s.headers }, handler, o, (attempt, reason) => {
        this.#log.warn({ kind, offset, attempt, reason }, 'handler failed');
        this.#events.next({ type: 'handler.failed', topic, partition: 0, offset, attempt, maxAttempts: o.maxAttempts, reason, ts: now() });
      });
      if (outcome.ok) deliveries.forget(0, offset);
      if (outcome.ok || settle(s, outcome.reason)) done(s);
    };
    const pump = (): void => {
      while (!stopped && inFlight < o.maxInFlight && (g.again.length > 0 || g.next < log.length)) {
        const s = g.again.shift() ?? log[g.next++]!;
        const d = this.#decode(kind, s);
        if (!d.ok) {
          if (settle(s, d.reason)) done(s);
          continue;
        }
        const n = deliveries.count(0, String(s.offset));
        if (n > o.maxDeliveries) {
          if (settle(s, `redelivered ${n - 1} times`)) done(s);
          continue;
        }
        inFlight++;
        void handle(s, d.value).finally(() => {
          inFlight--;
          if (stopped && inFlight === 0) idle?.();
          pump();
        });
      }
    };
    g.members.add(pump);
    queueMicrotask(pump);
    return {
      get inFlight() { return inFlight; },
      stop: () => {
        stopped = true;
        g.members.delete(pump);
        this.#board.remove(component);
        return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => { idle = resolve; });
      },
    };
  }

  read<K extends MessageKind>(kind: K, options: ReadOptions): Observable<Envelope<Messages[K]>> {
    return new Observable<Envelope<Messages[K]>>((subscriber) => {
      const emit = (s: Stored): void => {
        const d = this.#decode(kind, s);
        if (d.ok) subscriber.next({ key: s.key, value: d.value, partition: 0, offset: String(s.offset), headers: s.headers });
      };
      if (options.fromBeginning) for (const s of [...this.#logOf(kind)]) emit(s);
      const sub = this.#subject(kind).subscribe(emit);
      options.onReady?.(); // positioned at once: every later append reaches `emit`
      options.onCaughtUp?.(); // what was in the log is delivered already
      return () => sub.unsubscribe();
    });
  }

  async close(): Promise<void> {
    for (const s of this.#appended.values()) s.complete();
    this.#events.complete();
  }
}

/**
 * Creates the in-memory transport.
 *
 * @example
 * ```ts
 * const transport = createMemoryTransport();
 * ```
 */
export function createMemoryTransport(options: MemoryTransportOptions = {}): Transport & {
  /** Appends already-encoded messages as they are (for tests: malformed or foreign ones). */
  appendRaw: MemoryTransport['appendRaw'];
} {
  return new MemoryTransport(options);
}
