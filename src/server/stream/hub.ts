/**
 * The stream hub: every open run stream of a server. It ties together the channels of the
 * runs in flight ({@link RunChannels}: one subscription to the backend per run, each event
 * serialized once however many clients, kept a while after the run ends so reconnecting
 * clients still get its last tokens), the open streams ({@link OpenStreams}: their limits,
 * one ping timer, dropped clients reported), and catches each new client up: from the store
 * and the ring onto a channel, or by polling the store for a run another process holds.
 * @module
 */
import type { Logger } from '../../logger.ts';
import type { RunsView } from '../../runtime/runs.ts';
import type { StoredEvent } from '../../runtime/store.ts';
import type { RunBackend } from '../backend.ts';
import type { RunChannel } from './channel.ts';
import type { StreamClient } from './client.ts';
import { contiguous, historyFrames, merge } from './catchup.ts';
import { comment, comparePositions, endFrame, errorFrame, TOKENS_ELSEWHERE, TOKENS_GONE, type Frame, type StreamPosition } from './frame.ts';
import { OpenStreams, type StreamDroppedEvent } from './open-streams.ts';
import { RunChannels } from './run-channels.ts';
import { HubTimers } from './timers.ts';

export type { StreamDroppedEvent } from './open-streams.ts';

/**
 * Tuning of a {@link StreamHub}; every field has a default.
 *
 * @example
 * ```ts
 * const o: StreamHubTuning = { pingMs: 15_000, pollMs: 500, ringFrames: 4096 };
 * ```
 */
export interface StreamHubTuning {
  /** Interval of `: ping` comments to every client. Default 15 s. */
  readonly pingMs?: number;
  /** How often a run held by another process is read from the store. Default 500 ms. */
  readonly pollMs?: number;
  /** Frames of a run's ring (its recent tokens and events). Default 4,096. */
  readonly ringFrames?: number;
  /** Bytes of a run's ring at most. Default 8 MiB. */
  readonly ringBytes?: number;
  /** How long an ended run's ring is kept for clients reconnecting. Default 60 s. */
  readonly retainMs?: number;
  /** Told of every dropped client. */
  readonly onEvent?: (e: StreamDroppedEvent) => void;
  /** Current time (epoch ms) for events. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * What the hub is built on: the backend (live events), the store's runs (history), limits and a log.
 *
 * @example
 * ```ts
 * const hub = createStreamHub({ backend, runs: engine.runs, log, maxStreams: 5000, maxStreamsPerKey: 1000, streamBufferBytes: 1 << 20 });
 * ```
 */
export interface StreamHubOptions extends StreamHubTuning {
  readonly backend: RunBackend;
  readonly runs: RunsView;
  readonly log: Logger;
  readonly maxStreams: number;
  readonly maxStreamsPerKey: number;
  readonly streamBufferBytes: number;
}

/**
 * Counts of a hub, for tests, metrics and health.
 *
 * @example
 * ```ts
 * expect(hub.stats().subscriptions).toBe(0);
 * ```
 */
export interface StreamHubStats {
  /** Open streams. */
  readonly clients: number;
  /** Runs with a channel (in flight, or ended within `retainMs`). */
  readonly channels: number;
  /** Channels subscribed to the backend's live events now (one per run, never one per client). */
  readonly subscriptions: number;
  /** Clients dropped for not reading, since the hub was made. */
  readonly dropped: number;
  /** Frames serialized by channels (once per event). */
  readonly serialized: number;
}

/**
 * The run streams of a server.
 *
 * @example
 * ```ts
 * const verdict = hub.admit(principal.keyId); // 'ok' | 'streams' | 'key'
 * await hub.open(client, record, from);
 * ```
 */
export interface StreamHub {
  /** Whether one more stream may open for `keyId`: `streams` (the server's limit) or `key` (the key's) when not. */
  admit(keyId: string): 'ok' | 'streams' | 'key';
  /**
   * Streams run `run` to `client` from after `from`: the stored history, the ring, live
   * events, `event: end`. Resolves once the client is caught up (or the stream ended).
   */
  open(client: StreamClient, run: { readonly runId: string; readonly lastSeq: number; readonly status: string }, from: StreamPosition): Promise<void>;
  stats(): StreamHubStats;
  /** Ends every stream and drops every subscription. */
  close(): void;
}

const ENDED = new Set(['completed', 'failed', 'cancelled', 'waiting']);
/** Reads of the store, and the wait between them, while it catches up with the bus. */
const GAP_TRIES = 50;
const GAP_WAIT_MS = 10;

/**
 * Makes a stream hub.
 *
 * @example
 * ```ts
 * const hub = createStreamHub({ backend: ctx.backend, runs: ctx.runs, log: ctx.log, ...ctx.options });
 * ```
 */
export function createStreamHub(options: StreamHubOptions): StreamHub {
  const { backend, runs, log } = options;
  const pollMs = options.pollMs ?? 500;
  const timers = new HubTimers();
  const streams = new OpenStreams({
    maxStreams: options.maxStreams,
    maxStreamsPerKey: options.maxStreamsPerKey,
    streamBufferBytes: options.streamBufferBytes,
    pingMs: options.pingMs ?? 15_000,
    log,
    onEvent: options.onEvent,
    now: options.now ?? Date.now,
  });
  const channels = new RunChannels({
    backend,
    runs,
    log,
    limits: { frames: options.ringFrames ?? 4096, bytes: options.ringBytes ?? 8 * 1024 * 1024 },
    retainMs: options.retainMs ?? 60_000,
    timers,
  });
  let closed = false;

  // Follow every run the backend starts from its first event (backends that cannot say: from a run's first client on).
  const stopFollowing = backend.onStart?.((runId) => { if (!closed) channels.channelFor(runId, -1); });

  /** A run this backend does not hold and that has not ended: poll the store until it does. */
  const poll = async (client: StreamClient): Promise<void> => {
    client.write(comment(TOKENS_ELSEWHERE));
    while (!client.closed && !closed) {
      await timers.sleep(pollMs);
      if (client.closed || closed) return;
      let rec;
      let events: StoredEvent[];
      try {
        [rec, events] = await Promise.all([runs.get(client.runId), runs.history(client.runId, { fromSeq: client.position.seq + 1 })]);
      } catch (e) {
        log.error({ err: e, runId: client.runId }, 'stream: reading a run from the store failed');
        client.write(comment(`the store could not be read: ${(e as Error).message}; trying again`));
        continue;
      }
      for (const f of historyFrames(events)) client.send(f);
      if (rec === undefined || ENDED.has(rec.status)) {
        client.end(endFrame(rec?.status ?? 'unknown', client.position));
        return;
      }
      if (backend.holds(client.runId)) {
        // It came back to this process (resumed here): follow it live from where the client is.
        const ch = channels.channelFor(client.runId, client.position.seq);
        if (ch !== undefined) return join(client, ch, client.position);
      }
    }
  };

  /** Catches `client` up from `from` (history and ring) and adds it to the channel. */
  const join = async (client: StreamClient, ch: RunChannel, from: StreamPosition): Promise<void> => {
    ch.pending++;
    ch.watched = true;
    let merged: Frame[];
    try {
      for (let attempt = 0; ; attempt++) {
        const stored = historyFrames(await runs.history(client.runId, { fromSeq: from.seq + 1 }));
        if (client.closed) return;
        const lastStored = stored[stored.length - 1];
        if (lastStored !== undefined) ch.advanceTo(lastStored.at.seq);
        merged = merge(stored, ch.framesAfter(from));
        // The bus runs ahead of the store: an event published before the channel existed may still
        // be on its way to the store. Read again until the stored events and the ring meet.
        if (contiguous(merged, from) || attempt >= GAP_TRIES) break;
        await timers.sleep(GAP_WAIT_MS);
      }
    } finally {
      ch.pending--;
    }
    if (client.closed) return;
    if (!contiguous(merged, from)) {
      log.warn({ runId: client.runId }, 'stream: stored events are missing between the store and the live events');
      client.write(comment('some stored events were not in the store yet; reconnect to read them'));
    }
    if (ch.lostAfter(from)) client.write(comment(TOKENS_GONE));
    // Synchronous from here: nothing reaches the ring between the merge and joining the channel.
    for (const f of merged) client.send(f);
    if (ch.ended !== undefined) {
      client.end(endFrame(ch.ended, comparePositions(ch.last, client.position) > 0 ? ch.last : client.position));
      return;
    }
    ch.clients.add(client);
    client.onClose(() => ch.clients.delete(client));
  };

  return {
    admit(keyId) {
      return streams.admit(keyId);
    },
    async open(client, run, from) {
      streams.track(client);
      if (closed) {
        client.shutdown();
        return;
      }
      client.position = from;
      const ch = channels.channelFor(run.runId, run.lastSeq);
      if (ch !== undefined) return join(client, ch, from);
      const events = await runs.history(run.runId, { fromSeq: from.seq + 1 });
      for (const f of historyFrames(events)) client.send(f);
      const rec = ENDED.has(run.status) ? run : await runs.get(run.runId);
      if (rec === undefined || ENDED.has(rec.status)) {
        client.end(endFrame(rec?.status ?? 'unknown', client.position));
        return;
      }
      poll(client).catch((e: unknown) => {
        log.error({ err: e, runId: run.runId, keyId: client.keyId }, 'stream: following the run through the store failed');
        client.end(errorFrame(e));
      });
    },
    stats() {
      const { channels: open, subscriptions, serialized } = channels.stats();
      return { clients: streams.size, channels: open, subscriptions, dropped: streams.dropped, serialized };
    },
    close() {
      closed = true;
      stopFollowing?.();
      streams.shutdown();
      channels.close();
      timers.clear();
      streams.stopPing();
    },
  };
}
