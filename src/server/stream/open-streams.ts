/**
 * The open streams of a server: the limits on how many may open (in all, and per key),
 * one `: ping` timer for every client (running only while some are open), and the count
 * of clients dropped for not reading, each one an event and a warning, never silent.
 * @module
 */
import type { Logger } from '../../logger.ts';
import type { StreamClient } from './client.ts';
import { comment } from './frame.ts';

/**
 * What the hub reports: a client dropped for not reading (`server.stream.dropped`).
 *
 * @example
 * ```ts
 * const hub = createStreamHub({ ...deps, onEvent: (e) => console.warn(e.type, e.runId, e.keyId) });
 * ```
 */
export interface StreamDroppedEvent {
  readonly type: 'server.stream.dropped';
  readonly runId: string;
  readonly keyId: string;
  /** Bytes queued for it when it was dropped (past the limit). */
  readonly queuedBytes: number;
  readonly limitBytes: number;
  readonly ts: number;
}

/**
 * What {@link OpenStreams} needs: the limits, the ping interval, a log, and whom to tell of drops.
 *
 * @example
 * ```ts
 * const o: OpenStreamsOptions = { maxStreams: 5000, maxStreamsPerKey: 1000, streamBufferBytes: 1 << 20, pingMs: 15_000, log, now: Date.now };
 * ```
 */
export interface OpenStreamsOptions {
  readonly maxStreams: number;
  readonly maxStreamsPerKey: number;
  /** A client's queue limit (reported with each drop). */
  readonly streamBufferBytes: number;
  readonly pingMs: number;
  readonly log: Logger;
  /** Told of every dropped client. */
  readonly onEvent?: ((e: StreamDroppedEvent) => void) | undefined;
  /** Current time (epoch ms) for events. */
  readonly now: () => number;
}

/**
 * Every open stream, counted in all and per key, pinged while open.
 *
 * @example
 * ```ts
 * const streams = new OpenStreams({ maxStreams: 5000, maxStreamsPerKey: 1000, streamBufferBytes: 1 << 20, pingMs: 15_000, log, now: Date.now });
 * if (streams.admit(client.keyId) === 'ok') streams.track(client);
 * ```
 */
export class OpenStreams {
  readonly #options: OpenStreamsOptions;
  readonly #clients = new Set<StreamClient>();
  readonly #perKey = new Map<string, number>();
  readonly #ping: Buffer = comment('ping');
  #timer: ReturnType<typeof setInterval> | undefined;
  #dropped = 0;

  constructor(options: OpenStreamsOptions) {
    this.#options = options;
  }

  /** Open streams. */
  get size(): number {
    return this.#clients.size;
  }

  /** Clients dropped for not reading, since these streams were made. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether one more stream may open for `keyId`: `streams` (the server's limit) or `key` (the key's) when not. */
  admit(keyId: string): 'ok' | 'streams' | 'key' {
    if (this.#clients.size >= this.#options.maxStreams) return 'streams';
    if ((this.#perKey.get(keyId) ?? 0) >= this.#options.maxStreamsPerKey) return 'key';
    return 'ok';
  }

  /** Counts `client` until it closes, pings it meanwhile, and reports it if it is dropped. */
  track(client: StreamClient): void {
    const clients = this.#clients;
    const perKey = this.#perKey;
    const { log, streamBufferBytes } = this.#options;
    clients.add(client);
    perKey.set(client.keyId, (perKey.get(client.keyId) ?? 0) + 1);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => { for (const c of clients) c.write(this.#ping); }, this.#options.pingMs);
      this.#timer.unref?.();
    }
    client.onClose((why, queuedBytes) => {
      clients.delete(client);
      const k = (perKey.get(client.keyId) ?? 1) - 1;
      if (k === 0) perKey.delete(client.keyId);
      else perKey.set(client.keyId, k);
      if (clients.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
      if (why === 'dropped') {
        this.#dropped++;
        const e: StreamDroppedEvent = { type: 'server.stream.dropped', runId: client.runId, keyId: client.keyId, queuedBytes, limitBytes: streamBufferBytes, ts: this.#options.now() };
        log.warn({ runId: client.runId, keyId: client.keyId, queuedBytes, limitBytes: streamBufferBytes }, 'stream client dropped: it stopped reading and its queue passed streamBufferBytes');
        this.#options.onEvent?.(e);
      }
    });
  }

  /** Shuts every open stream down. */
  shutdown(): void {
    for (const c of [...this.#clients]) c.shutdown();
  }

  /** Stops the ping timer. */
  stopPing(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
