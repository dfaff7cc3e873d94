/**
 * The channels of a hub, one {@link RunChannel} per run in flight: made when the backend
 * starts a run (or at its first client), finished when the run ends (the events only the
 * store has are published, every client is ended), and kept `retainMs` after that so
 * reconnecting clients still get the run's last tokens.
 * @module
 */
import type { Logger } from '../../logger.ts';
import type { RunsView } from '../../runtime/runs.ts';
import type { RunBackend } from '../backend.ts';
import { RunChannel, type RingLimits } from './channel.ts';
import { comment, endFrame } from './frame.ts';
import type { HubTimers } from './timers.ts';

/**
 * What {@link RunChannels} is built on.
 *
 * @example
 * ```ts
 * const o: RunChannelsOptions = { backend, runs: engine.runs, log, limits: { frames: 4096, bytes: 8 << 20 }, retainMs: 60_000, timers: new HubTimers() };
 * ```
 */
export interface RunChannelsOptions {
  /** Live events, and which runs this process holds. */
  readonly backend: RunBackend;
  /** Stored events and run rows. */
  readonly runs: RunsView;
  readonly log: Logger;
  /** Bounds of each channel's ring. */
  readonly limits: RingLimits;
  /** How long an ended run's channel (its ring) is kept. */
  readonly retainMs: number;
  /** Where the expiry of ended channels is scheduled (cleared when the hub closes). */
  readonly timers: HubTimers;
}

/**
 * Counts of a hub's channels.
 *
 * @example
 * ```ts
 * const { channels, subscriptions, serialized } = runChannels.stats();
 * ```
 */
export interface RunChannelsStats {
  /** Runs with a channel (in flight, or ended within `retainMs`). */
  readonly channels: number;
  /** Channels subscribed to the backend's live events now. */
  readonly subscriptions: number;
  /** Frames serialized by channels, those already gone included. */
  readonly serialized: number;
}

/**
 * The channel of every run in flight on this process, and of those ended a short while ago.
 *
 * @example
 * ```ts
 * const channels = new RunChannels({ backend, runs, log, limits, retainMs: 60_000, timers });
 * const ch = channels.channelFor(run.runId, run.lastSeq); // undefined: another process holds it
 * ```
 */
export class RunChannels {
  readonly #options: RunChannelsOptions;
  readonly #channels = new Map<string, RunChannel>();
  /** Frames serialized by channels no longer in the map. */
  #serializedGone = 0;

  constructor(options: RunChannelsOptions) {
    this.#options = options;
  }

  /**
   * The channel of `runId`: the one it has (an ended one serves its ring until it expires,
   * unless the run came back), or a new one subscribed to the backend when this process
   * holds the run; undefined when it holds neither.
   */
  channelFor(runId: string, lastSeq: number): RunChannel | undefined {
    const { backend, runs, limits } = this.#options;
    const had = this.#channels.get(runId);
    const holds = backend.holds(runId);
    // An ended channel serves its ring until it expires, unless the run came back (resumed by a signal).
    if (had !== undefined && (had.ended === undefined || !holds)) return had;
    if (!holds) return undefined;
    const ch = new RunChannel(runId, Math.max(lastSeq, had?.lastSeq ?? -1), limits, (fromSeq, toSeq) => runs.history(runId, { fromSeq, toSeq }));
    if (had !== undefined) this.#serializedGone += had.serialized;
    this.#channels.set(runId, ch);
    ch.attach(backend.live(runId), () => { void this.#finish(ch); });
    return ch;
  }

  /** Counts of the channels now. */
  stats(): RunChannelsStats {
    let subscriptions = 0;
    let serialized = this.#serializedGone;
    for (const ch of this.#channels.values()) {
      if (ch.subscribed) subscriptions++;
      serialized += ch.serialized;
    }
    return { channels: this.#channels.size, subscriptions, serialized };
  }

  /** Closes every channel and forgets them. */
  close(): void {
    for (const ch of this.#channels.values()) ch.close();
    this.#channels.clear();
  }

  /** Forgets `ch` if it is still the run's channel. */
  #forget(ch: RunChannel): void {
    if (this.#channels.get(ch.runId) === ch) {
      this.#serializedGone += ch.serialized;
      this.#channels.delete(ch.runId);
    }
  }

  /** The run ended (or left this backend): publish what only the store has, end every client, keep the ring a while. */
  async #finish(ch: RunChannel): Promise<void> {
    const { runs, log, retainMs, timers } = this.#options;
    if (!ch.watched && ch.pending === 0) {
      // Nobody watched it: nothing to send, nothing worth keeping.
      ch.close();
      this.#forget(ch);
      return;
    }
    let status = 'running';
    try {
      const [rec, rest] = await Promise.all([runs.get(ch.runId), runs.history(ch.runId, { fromSeq: ch.lastSeq + 1 })]);
      ch.publishStored(rest);
      status = rec?.status ?? 'running';
    } catch (e) {
      log.error({ err: e, runId: ch.runId }, 'stream: the run ended but its last events could not be read from the store');
      for (const c of ch.clients) c.write(comment(`the run's last events could not be read from the store: ${(e as Error).message}`));
    }
    ch.ended = status;
    const last = endFrame(status, ch.last);
    for (const c of [...ch.clients]) c.end(last);
    ch.close();
    timers.later(retainMs, () => this.#forget(ch));
  }
}
