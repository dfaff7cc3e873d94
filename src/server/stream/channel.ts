/**
 * The channel of one run in flight: ONE subscription to the backend's live events,
 * each event serialized once into a frame that every client of the run is written,
 * and a bounded ring of the recent frames so a client that reconnects (or joins late)
 * gets the tokens it missed. Stored events carry their `seq`; tokens, restarts and
 * parks are numbered after the last stored event seen (`seq:n`).
 * @module
 */
import type { Subscription } from 'rxjs';
import type { EngineEvent } from '../../runtime/events.ts';
import type { StreamClient } from './client.ts';
import { comparePositions, eventFrame, type Frame, type StreamPosition } from './frame.ts';

/** Reads of the store for stored events missing before a live one, and the wait between them. */
const REPAIR_TRIES = 20;
const REPAIR_WAIT_MS = 10;

/**
 * Reads a run's stored events `fromSeq..toSeq` (inclusive).
 *
 * @example
 * ```ts
 * const read: StoredReader = (fromSeq, toSeq) => runs.history(runId, { fromSeq, toSeq });
 * ```
 */
export type StoredReader = (fromSeq: number, toSeq: number) => Promise<readonly { readonly seq: number; readonly type: string }[]>;

/** Events that are not in the stored log but belong in a run's stream. */
const UNSTORED = new Set(['node.token', 'node.restart', 'run.parked']);

/**
 * Bounds of a channel's ring.
 *
 * @example
 * ```ts
 * const limits: RingLimits = { frames: 4096, bytes: 8 << 20 };
 * ```
 */
export interface RingLimits {
  /** Frames kept at most (tokens and the stored events between them). */
  readonly frames: number;
  /** Bytes of frames kept at most. */
  readonly bytes: number;
}

/**
 * One run's live events, serialized once and fanned out to its clients.
 *
 * @example
 * ```ts
 * const ch = new RunChannel('r1', 4, { frames: 4096, bytes: 8 << 20 });
 * ch.attach(backend.live('r1'), () => finish());
 * ```
 */
export class RunChannel {
  readonly runId: string;
  /** Clients caught up with the ring: every new frame is written to them. */
  readonly clients = new Set<StreamClient>();
  /** Clients reading the stored history before they join. */
  pending = 0;
  /** Frames serialized (once per event, however many clients; none while nobody watches). */
  serialized = 0;
  /** Whether a client ever joined (an ended channel nobody watched is not kept). */
  watched = false;
  /** The status the run ended with, once it did; then the channel only serves the ring until it expires. */
  ended: string | undefined;
  #lastSeq: number;
  #n = 0;
  readonly #limits: RingLimits;
  readonly #encoded = (): void => { this.serialized++; };
  #ring: Frame[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  /** The latest unstored frame dropped from the ring: a client resuming before it missed tokens. */
  #evicted: StreamPosition | undefined;
  #sub: Subscription | undefined;

  readonly #read: StoredReader | undefined;
  /** Live events held while stored events missing before them are read. */
  #held: EngineEvent[] | undefined;
  #completedWhileHeld: (() => void) | undefined;

  /**
   * `read` fetches stored events `fromSeq..toSeq`: when a live event skips `seq`s (the channel
   * began after they were published, or they were never on the bus, such as a fork's copied
   * events), the missing ones are read from the store and published first.
   */
  constructor(runId: string, lastSeq: number, limits: RingLimits, read?: StoredReader) {
    this.runId = runId;
    this.#lastSeq = lastSeq;
    this.#limits = limits;
    this.#read = read;
  }

  /** Subscribes to the run's live events; `completed` runs when they complete (the run ended or left). */
  attach(live: { subscribe(o: { next(e: EngineEvent): void; complete(): void; error(e: unknown): void }): Subscription }, completed: () => void): void {
    const done = (): void => {
      if (this.#held === undefined) completed();
      else this.#completedWhileHeld = completed;
    };
    this.#sub = live.subscribe({ next: (e) => this.#onEvent(e), complete: done, error: done });
  }

  /** Whether the channel still holds its subscription to the backend. */
  get subscribed(): boolean {
    return this.#sub !== undefined && !this.#sub.closed;
  }

  /** The position of the last frame published (what `event: end` repeats). */
  get last(): StreamPosition {
    const f = this.#ring[this.#ring.length - 1];
    return f !== undefined && comparePositions(f.at, { seq: this.#lastSeq, n: -1 }) > 0 ? f.at : { seq: this.#lastSeq, n: -1 };
  }

  /** The latest stored `seq` seen. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Whether tokens after `from` were dropped from the ring (a client resuming there misses them). */
  lostAfter(from: StreamPosition): boolean {
    return this.#evicted !== undefined && comparePositions(this.#evicted, from) > 0;
  }

  /** Frames in the ring after `from`, in order. */
  framesAfter(from: StreamPosition): Frame[] {
    const out: Frame[] = [];
    for (let i = this.#ring.length - 1; i >= this.#head; i--) {
      const f = this.#ring[i]!;
      if (comparePositions(f.at, from) <= 0) break;
      out.push(f);
    }
    return out.reverse();
  }

  /**
   * Publishes stored events (read from the store: events the bus did not carry, such as
   * `run.waiting`, or ones the channel joined too late to see) newer than the last seen.
   */
  publishStored(events: readonly { readonly seq: number; readonly type: string }[]): void {
    for (const e of events) if (e.seq > this.#lastSeq) this.#publishSeq(e, e.seq);
  }

  /**
   * A client's history reached `seq`: later tokens are numbered after it. (A channel made while
   * the run was mid-way knows only the store's last `seq`, which the bus may be ahead of.)
   */
  advanceTo(seq: number): void {
    if (seq > this.#lastSeq) {
      this.#lastSeq = seq;
      this.#n = 0;
    }
  }

  /** Drops the backend subscription and every client reference. */
  close(): void {
    this.#sub?.unsubscribe();
    this.clients.clear();
  }

  #onEvent(e: EngineEvent): void {
    if (this.#held !== undefined) {
      this.#held.push(e);
      return;
    }
    const { runId, seq } = e as { runId?: unknown; seq?: unknown };
    if (runId !== this.runId) return; // child runs have their own seq space
    if (typeof seq === 'number') {
      // Only worth it while someone watches: a client that joins later catches up from the store.
      if (seq > this.#lastSeq + 1 && this.#read !== undefined && (this.clients.size > 0 || this.pending > 0)) {
        this.#held = [e];
        void this.#repair(seq);
      } else if (seq > this.#lastSeq) this.#publishSeq(e, seq);
    } else if (UNSTORED.has(e.type)) {
      this.#publish(eventFrame(e, { seq: this.#lastSeq, n: this.#n++ }, this.#encoded));
    }
  }

  /** Reads the stored events before `seq` the channel has not seen, publishes them, then the held live events. */
  async #repair(seq: number): Promise<void> {
    for (let attempt = 0; attempt < REPAIR_TRIES && this.#lastSeq < seq - 1; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, REPAIR_WAIT_MS));
      try {
        this.publishStored(await this.#read!(this.#lastSeq + 1, seq - 1));
      } catch {
        break; // the clients' catch-up reads the store again, and says so when it cannot
      }
    }
    const held = this.#held ?? [];
    this.#held = undefined;
    // published as they came; a seq still missing is skipped over (the store has it for catch-ups)
    for (const e of held) {
      const s = (e as { seq?: unknown }).seq;
      if (typeof s === 'number' && s > this.#lastSeq) this.#publishSeq(e, s);
      else this.#onEvent(e);
    }
    const completed = this.#completedWhileHeld;
    this.#completedWhileHeld = undefined;
    completed?.();
  }

  #publishSeq(e: { readonly type: string }, seq: number): void {
    this.#lastSeq = seq;
    this.#n = 0;
    this.#publish(eventFrame(e, { seq, n: -1 }, this.#encoded));
  }

  #publish(frame: Frame): void {
    this.#ring.push(frame);
    // Bytes are counted for frames serialized (a watched run); an unwatched run's ring holds
    // references to the events only, bounded by the frame count.
    const watched = this.clients.size > 0;
    if (watched) this.#bytes += frame.bytes.length;
    this.#sizes.push(watched ? frame.bytes.length : 0);
    while (this.#ring.length - this.#head > this.#limits.frames || (this.#bytes > this.#limits.bytes && this.#ring.length - this.#head > 1)) {
      const old = this.#ring[this.#head]!;
      this.#bytes -= this.#sizes[this.#head]!;
      this.#head++;
      if (old.unstored) this.#evicted = old.at;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ring.length) {
      this.#ring = this.#ring.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    for (const c of this.clients) c.send(frame);
  }
}
