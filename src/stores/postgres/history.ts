/**
 * Whole-history reads of the PostgreSQL store, batched: every `history(runId)` asked in
 * one turn of the event loop is answered by one query (`run_id = ANY($1)`), each run's
 * events aggregated in `seq` order by the server. Recovery reads the history of every run
 * it claims, many at once; this makes that one round trip per turn instead of one per run.
 * @module
 */
import type pg from 'pg';
import type { StoredEvent } from '../../runtime/store.ts';
import { runNotFound } from '../rows.ts';

/** Most runs per query. */
const MAX_RUNS = 500;

interface Waiter {
  readonly runId: string;
  readonly resolve: (events: StoredEvent[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Creates a batched reader of whole histories. `read` runs a query on a pooled connection
 * (with the store's retries and error mapping); `s` is the quoted schema.
 *
 * @example
 * ```ts
 * const history = historyReader((fn) => read('history', fn), '"public"');
 * const [a, b] = await Promise.all([history('r1'), history('r2')]); // one query
 * ```
 */
export function historyReader(read: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>, s: string): (runId: string) => Promise<StoredEvent[]> {
  let waiting: Waiter[] = [];
  let scheduled = false;
  const text = `SELECT r.run_id, (SELECT json_agg(e.body ORDER BY e.seq) FROM ${s}.llmo_events e WHERE e.run_id = r.run_id) AS events
    FROM ${s}.llmo_runs r WHERE r.run_id = ANY($1::text[])`;

  const answer = async (batch: readonly Waiter[]): Promise<void> => {
    try {
      const ids = [...new Set(batch.map((w) => w.runId))];
      const r = await read((c) => c.query<{ run_id: string; events: StoredEvent[] | null }>(text, [ids]));
      const found = new Map(r.rows.map((row) => [row.run_id, row.events ?? []]));
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

  return (runId) => new Promise<StoredEvent[]>((resolve, reject) => {
    waiting.push({ runId, resolve, reject });
    if (!scheduled) {
      scheduled = true;
      // The next macrotask: every read asked in this turn (recovery asks many at once) shares the query.
      setImmediate(flush);
    }
  });
}
