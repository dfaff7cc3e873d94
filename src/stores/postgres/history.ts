/**
 * Whole-history reads of the PostgreSQL store, batched: every `history(runId)` asked in
 * one turn of the event loop is answered by one query (`run_id = ANY($1)`), each run's
 * events aggregated in `seq` order by the server.
 *
 * Recovery claims many runs, then reads each one's history (a few at a time). After a
 * claim, the store reads ahead: the histories of the claimed `running` runs are fetched in
 * claim order, a few hundred per query, a bounded number ahead of what has been asked, and
 * each is handed out once. Only runs this process now holds the lease of are read ahead,
 * and only `running` ones (a signal can be appended to a waiting run by any process); any
 * write of a run through this store drops what was read ahead for it.
 * @module
 */
import type pg from 'pg';
import type { StoredEvent } from '../../runtime/store.ts';
import { runNotFound } from '../rows.ts';

/** Most runs per query. */
const MAX_RUNS = 500;
/** Most histories read ahead and not yet asked for. */
const AHEAD = 2000;
/** Read-ahead queries in flight at once. */
const AHEAD_QUERIES = 2;
/** A history read ahead and not asked for within this long is dropped. */
const KEEP_MS = 30_000;

interface Waiter {
  readonly runId: string;
  readonly resolve: (events: StoredEvent[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Batched whole-history reads with read-ahead after claims.
 *
 * @example
 * ```ts
 * const histories = historyReader((fn) => read('history', fn), '"public"');
 * histories.readAhead(claimed.filter((r) => r.status === 'running').map((r) => r.runId));
 * const events = await histories.read('r1');
 * ```
 */
export interface HistoryReader {
  /** A run's whole history (`RUN_NOT_FOUND` for an unknown run). */
  read(runId: string): Promise<StoredEvent[]>;
  /** Starts fetching these runs' histories, in this order (runs this process just claimed). */
  readAhead(runIds: readonly string[]): void;
  /** Drops what was read ahead for a run (it is being written). */
  forget(runId: string): void;
  /** Whether anything is read ahead or waiting to be (else `forget` has nothing to do). */
  readonly active: boolean;
  /** Drops everything read ahead. */
  clear(): void;
}

/**
 * Creates a {@link HistoryReader}. `read` runs a query on a pooled connection (with the
 * store's retries and error mapping); `s` is the quoted schema.
 *
 * @example
 * ```ts
 * const histories = historyReader((fn) => read('history', fn), '"public"');
 * const [a, b] = await Promise.all([histories.read('r1'), histories.read('r2')]); // one query
 * ```
 */
export function historyReader(read: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>, s: string): HistoryReader {
  const text = `SELECT r.run_id, (SELECT json_agg(e.body ORDER BY e.seq) FROM ${s}.llmo_events e WHERE e.run_id = r.run_id) AS events
    FROM ${s}.llmo_runs r WHERE r.run_id = ANY($1::text[])`;
  const fetch = async (ids: readonly string[]): Promise<Map<string, StoredEvent[]>> => {
    const r = await read((c) => c.query<{ run_id: string; events: StoredEvent[] | null }>(text, [ids]));
    return new Map(r.rows.map((row) => [row.run_id, row.events ?? []]));
  };

  // Batched reads.
  let waiting: Waiter[] = [];
  let scheduled = false;
  const answer = async (batch: readonly Waiter[]): Promise<void> => {
    try {
      const found = await fetch([...new Set(batch.map((w) => w.runId))]);
      const given = new Set<string>();
      for (const w of batch) {
        const events = found.get(w.runId);
        if (events === undefined) w.reject(runNotFound(w.runId));
        // Two asks for one run in a batch each get their own copy.
        else w.resolve(given.has(w.runId) ? structuredClone(events) : events);
        given.add(w.runId);
      }
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  };
  const flush = (): void => {
    scheduled = false;
    const all = waiting;
    waiting = [];
    for (let i = 0; i < all.length; i += MAX_RUNS) void answer(all.slice(i, i + MAX_RUNS));
  };
  const batched = (runId: string): Promise<StoredEvent[]> => new Promise<StoredEvent[]>((resolve, reject) => {
    waiting.push({ runId, resolve, reject });
    if (!scheduled) {
      scheduled = true;
      // The next macrotask: every read asked in this turn shares the query.
      setImmediate(flush);
    }
  });

  // Read-ahead.
  /** Fetched, not yet asked for: the events (undefined: no such run) and when they were read. */
  const ready = new Map<string, { readonly events: StoredEvent[] | undefined; readonly at: number }>();
  /** Claimed, not yet fetched, in claim order (a Set keeps insertion order). */
  const pending = new Set<string>();
  /** Being fetched: the query's promise. */
  const fetching = new Map<string, Promise<void>>();
  let queries = 0;

  const sweep = (): void => {
    const old = Date.now() - KEEP_MS;
    for (const [id, r] of ready) if (r.at < old) ready.delete(id);
  };
  const pump = (): void => {
    while (queries < AHEAD_QUERIES && pending.size > 0 && ready.size + fetching.size < AHEAD) {
      const ids: string[] = [];
      for (const id of pending) {
        ids.push(id);
        if (ids.length === MAX_RUNS) break;
      }
      for (const id of ids) pending.delete(id);
      queries++;
      const p = fetch(ids).then((found) => {
        const at = Date.now();
        // Only what was not written (forgotten) meanwhile.
        for (const id of ids) if (fetching.get(id) === p) ready.set(id, { events: found.get(id), at });
      }, () => undefined).finally(() => {
        for (const id of ids) if (fetching.get(id) === p) fetching.delete(id);
        queries--;
        pump();
      });
      for (const id of ids) fetching.set(id, p);
    }
  };
  const take = (runId: string): Promise<StoredEvent[]> | undefined => {
    const r = ready.get(runId);
    if (r === undefined) return undefined;
    ready.delete(runId);
    pump();
    return r.events === undefined ? Promise.reject(runNotFound(runId)) : Promise.resolve(r.events);
  };

  return {
    read(runId) {
      const got = take(runId);
      if (got !== undefined) return got;
      const inFlight = fetching.get(runId);
      if (inFlight !== undefined) return inFlight.then(() => take(runId) ?? batched(runId));
      pending.delete(runId);
      return batched(runId);
    },
    readAhead(runIds) {
      sweep();
      for (const id of runIds) if (!ready.has(id) && !fetching.has(id)) pending.add(id);
      pump();
    },
    forget(runId) {
      ready.delete(runId);
      pending.delete(runId);
      fetching.delete(runId);
    },
    get active() {
      return ready.size > 0 || pending.size > 0 || fetching.size > 0;
    },
    clear() {
      ready.clear();
      pending.clear();
      fetching.clear();
    },
  };
}
