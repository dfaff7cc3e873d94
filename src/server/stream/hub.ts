/**
 * The stream hub: every open run stream of a server. One {@link RunChannel} per run in
 * flight (one subscription to the backend, each event serialized once, however many
 * clients), kept a while after the run ends so reconnecting clients still get its last
 * tokens; the limits on open streams; one ping timer for all clients; and the count of
 * clients dropped for not reading (each one an event and a warning, never silent).
 * @module
 */
import type { Logger } from '../../logger.ts';
import type { RunsView } from '../../runtime/runs.ts';
import type { StoredEvent } from '../../runtime/store.ts';
import type { RunBackend } from '../backend.ts';
import { RunChannel } from './channel.ts';
import type { StreamClient } from './client.ts';
import { contiguous, historyFrames, merge } from './catchup.ts';
import { comment, comparePositions, endFrame, errorFrame, TOKENS_ELSEWHERE, TOKENS_GONE, type Frame, type StreamPosition } from './frame.ts';

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
  const pingMs = options.pingMs ?? 15_000;
  const pollMs = options.pollMs ?? 500;
  const retainMs = options.retainMs ?? 60_000;
  const limits = { frames: options.ringFrames ?? 4096, bytes: options.ringBytes ?? 8 * 1024 * 1024 };
  const now = options.now ?? Date.now;
  const channels = new Map<string, RunChannel>();
  const clients = new Set<StreamClient>();
  const perKey = new Map<string, number>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let dropped = 0;
  let serializedGone = 0;
  let ping: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  const PING = comment('ping');

  const later = (ms: number, f: () => void): void => {
    const t = setTimeout(() => { timers.delete(t); f(); }, ms);
    t.unref?.();
    timers.add(t);
  };

  const track = (client: StreamClient): void => {
    clients.add(client);
    perKey.set(client.keyId, (perKey.get(client.keyId) ?? 0) + 1);
    if (ping === undefined) {
      ping = setInterval(() => { for (const c of clients) c.write(PING); }, pingMs);
      ping.unref?.();
    }
    client.onClose((why, queuedBytes) => {
      clients.delete(client);
      const k = (perKey.get(client.keyId) ?? 1) - 1;
      if (k === 0) perKey.delete(client.keyId);
      else perKey.set(client.keyId, k);
      if (clients.size === 0 && ping !== undefined) {
        clearInterval(ping);
        ping = undefined;
      }
      if (why === 'dropped') {
        dropped++;
        const e: StreamDroppedEvent = { type: 'server.stream.dropped', runId: client.runId, keyId: client.keyId, queuedBytes, limitBytes: options.streamBufferBytes, ts: now() };
        log.warn({ runId: client.runId, keyId: client.keyId, queuedBytes, limitBytes: options.streamBufferBytes }, 'stream client dropped: it stopped reading and its queue passed streamBufferBytes');
        options.onEvent?.(e);
      }
    });
  };

  /** The run ended (or left this backend): publish what only the store has, end every client, keep the ring a while. */
  const finish = async (ch: RunChannel): Promise<void> => {
    if (!ch.watched && ch.pending === 0) {
      // Nobody watched it: nothing to send, nothing worth keeping.
      ch.close();
      if (channels.get(ch.runId) === ch) {
        serializedGone += ch.serialized;
        channels.delete(ch.runId);
      }
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
    later(retainMs, () => {
      if (channels.get(ch.runId) === ch) {
        serializedGone += ch.serialized;
        channels.delete(ch.runId);
      }
    });
  };

  const channelFor = (runId: string, lastSeq: number): RunChannel | undefined => {
    const had = channels.get(runId);
    const holds = backend.holds(runId);
    // An ended channel serves its ring until it expires, unless the run came back (resumed by a signal).
    if (had !== undefined && (had.ended === undefined || !holds)) return had;
    if (!holds) return undefined;
    const ch = new RunChannel(runId, Math.max(lastSeq, had?.lastSeq ?? -1), limits, (fromSeq, toSeq) => runs.history(runId, { fromSeq, toSeq }));
    if (had !== undefined) serializedGone += had.serialized;
    channels.set(runId, ch);
    ch.attach(backend.live(runId), () => { void finish(ch); });
    return ch;
  };

  // Follow every run the backend starts from its first event (backends that cannot say: from a run's first client on).
  const stopFollowing = backend.onStart?.((runId) => { if (!closed) channelFor(runId, -1); });

  /** A run this backend does not hold and that has not ended: poll the store until it does. */
  const poll = async (client: StreamClient): Promise<void> => {
    client.write(comment(TOKENS_ELSEWHERE));
    while (!client.closed && !closed) {
      await new Promise<void>((resolve) => later(pollMs, resolve));
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
        const ch = channelFor(client.runId, client.position.seq);
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
        await new Promise<void>((resolve) => later(GAP_WAIT_MS, resolve));
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
      if (clients.size >= options.maxStreams) return 'streams';
      if ((perKey.get(keyId) ?? 0) >= options.maxStreamsPerKey) return 'key';
      return 'ok';
    },
    async open(client, run, from) {
      track(client);
      if (closed) {
        client.shutdown();
        return;
      }
      client.position = from;
      const ch = channelFor(run.runId, run.lastSeq);
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
      let subscriptions = 0;
      let serialized = serializedGone;
      for (const ch of channels.values()) {
        if (ch.subscribed) subscriptions++;
        serialized += ch.serialized;
      }
      return { clients: clients.size, channels: channels.size, subscriptions, dropped, serialized };
    },
    close() {
      closed = true;
      stopFollowing?.();
      for (const c of [...clients]) c.shutdown();
      for (const ch of channels.values()) ch.close();
      channels.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (ping !== undefined) clearInterval(ping);
      ping = undefined;
    },
  };
}
