/**
 * The SQLite store's `events` rows: one row per run per commit, holding one event (its body an
 * object) or several (an array), and the way back from a row to its events.
 * @module
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../../errors.ts';
import type { StoredEvent } from '../../runtime/store.ts';

/**
 * Parses a JSON column; a value that does not parse is `STORE_CORRUPT`.
 *
 * @example
 * ```ts
 * const input = parseJson(row.input, 'runs.db');
 * ```
 */
export function parseJson(text: string | null, location: string): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new StoreError('STORE_CORRUPT', `run store ${location}: a stored value is not valid JSON`, { cause: e });
  }
}

/**
 * The stored body of an event (schema version 2): its JSON without the fields its row keeps
 * in columns (`runId`, `seq`, `ts`, `type`, `nodeId`), so each row carries them once.
 *
 * @example
 * ```ts
 * bodyOf({ runId: 'r1', seq: 3, ts: 5, type: 'node.completed', nodeId: 'a', output: 1 }); // '{"output":1}'
 * ```
 */
export function bodyOf(e: StoredEvent): string {
  const { runId: _runId, seq: _seq, ts: _ts, type: _type, nodeId: _nodeId, ...rest } = e;
  return JSON.stringify(rest);
}

/**
 * An `events` row as the history statement returns it: seq, ts, type, node id, body, end seq.
 *
 * @example
 * ```ts
 * const rows = stmts.history.all(params) as EventRow[];
 * ```
 */
export type EventRow = readonly [number, number, string, string | null, string, number | null];

/**
 * The events of one row, appended to `out`: one event (`end_seq` NULL: the columns, then the
 * body's fields; a version 1 body holds every field itself, which comes to the same event), or
 * the events `seq` to `end_seq` of a row holding several (its body an array of the events
 * without `runId` and `seq`).
 *
 * @example
 * ```ts
 * const out: StoredEvent[] = [];
 * eventsOf('r1', [3, 5, 'node.completed', 'a', '{"output":1}', null], 'runs.db', out);
 * ```
 */
export function eventsOf(runId: string, row: EventRow, location: string, out: StoredEvent[]): void {
  const [seq, ts, type, nodeId, body, endSeq] = row;
  const rest = parseJson(body, location);
  if (endSeq === null) {
    if (!isObject(rest)) throw notAnEvent(location, runId, seq);
    out.push(nodeId === null ? { type, runId, seq, ts, ...rest } : { type, runId, seq, ts, nodeId, ...rest });
    return;
  }
  if (!Array.isArray(rest) || rest.length !== endSeq - seq + 1) throw notAnEvent(location, runId, seq);
  rest.forEach((x: unknown, i) => {
    if (!isObject(x) || typeof x['type'] !== 'string' || typeof x['ts'] !== 'number') throw notAnEvent(location, runId, seq + i);
    const { type: t, ts: at, ...fields } = x;
    out.push({ type: t as string, runId, seq: seq + i, ts: at as number, ...fields });
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const notAnEvent = (location: string, runId: string, seq: number): StoreError =>
  new StoreError('STORE_CORRUPT', `run store ${location}: event ${seq} of run ${runId} is not a stored event`);

/** Rows per multi-row `INSERT` of events ({@link insertEventRows}). */
export const EVENT_ROWS = 32;
/** Columns of an `events` row: run key, seq, end seq, ts, type, node id, body. */
export const EVENT_COLUMNS = 7;

/**
 * One `events` row to write: a run's consecutive events of one commit.
 *
 * @example
 * ```ts
 * rows.push({ runKey: 7, events });
 * ```
 */
export interface EventRowWrite {
  readonly runKey: number;
  readonly events: readonly StoredEvent[];
}

/**
 * Inserts one row per {@link EventRowWrite} (one event: its body object; several: an array of
 * them) with one multi-row statement per {@link EVENT_ROWS} rows (positional parameters), the
 * rest one by one.
 *
 * @example
 * ```ts
 * insertEventRows(stmts, [{ runKey: 7, events }]);
 * ```
 */
export function insertEventRows(stmts: { readonly insertEvent: Database.Statement; readonly insertEvents: Database.Statement }, rows: readonly EventRowWrite[]): void {
  const n = rows.length;
  let i = 0;
  if (n >= EVENT_ROWS) {
    const params = new Array<unknown>(EVENT_ROWS * EVENT_COLUMNS);
    for (; i + EVENT_ROWS <= n; i += EVENT_ROWS) {
      for (let k = 0; k < EVENT_ROWS; k++) putRow(params, k * EVENT_COLUMNS, rows[i + k]!);
      stmts.insertEvents.run(params);
    }
  }
  const one = new Array<unknown>(EVENT_COLUMNS);
  for (; i < n; i++) {
    putRow(one, 0, rows[i]!);
    stmts.insertEvent.run(one);
  }
}

function putRow(params: unknown[], at: number, w: EventRowWrite): void {
  const events = w.events;
  const first = events[0]!;
  const last = events[events.length - 1]!;
  params[at] = w.runKey;
  params[at + 1] = first.seq;
  params[at + 2] = events.length === 1 ? null : last.seq;
  params[at + 3] = last.ts;
  params[at + 4] = first.type;
  params[at + 5] = first.nodeId ?? null;
  params[at + 6] = events.length === 1 ? bodyOf(first) : segmentBody(events);
}

/** The body of a row holding several events: each event without `runId` and `seq` (its place gives it). */
function segmentBody(events: readonly StoredEvent[]): string {
  let out = '[';
  for (let i = 0; i < events.length; i++) {
    const { runId: _runId, seq: _seq, ...rest } = events[i]!;
    out += (i === 0 ? '' : ',') + JSON.stringify(rest);
  }
  return `${out}]`;
}

