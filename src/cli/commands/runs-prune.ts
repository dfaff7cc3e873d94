/**
 * `llmo runs prune --ended-before <age|time> [--status list] --store <url>`: retention. Deletes
 * the runs that ended before a cut-off, with their logs (`store.deleteRuns`); runs still running
 * or parked are never touched. Run it from cron or a scheduled job.
 * @module
 */
import { ENDED_STATUSES } from '../../runtime/store.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import { openCliStore, storeUrl } from '../store-flag.ts';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * The cut-off of `--ended-before`: an age (`30d`, `12h`, `90m`, `45s`, `500ms`, `2w`; a bare number
 * is ms) before `now`, or an ISO 8601 time; undefined when it is neither.
 *
 * @example
 * ```ts
 * cutOff('30d', Date.now()); // 30 days ago, epoch ms
 * cutOff('2026-11-01T00:00:00Z', Date.now());
 * ```
 */
export function cutOff(value: string, now: number): number | undefined {
  const age = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(value.trim());
  if (age !== null) return now - Number(age[1]) * UNITS[age[2] ?? 'ms']!;
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim())) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? at : undefined;
}

/**
 * Options of `llmo runs prune`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: PruneCommandOptions = { store: 'runs.db', endedBefore: '30d', status: 'completed' };
 * ```
 */
export interface PruneCommandOptions {
  readonly store?: string | undefined;
  readonly endedBefore?: string | undefined;
  /** Comma-separated ended statuses (default all three). */
  readonly status?: string | undefined;
  readonly json?: boolean | undefined;
}

/**
 * Deletes ended runs older than the cut-off; resolves with the exit code (2 invalid usage, 1 store failure).
 *
 * @example
 * ```ts
 * const code = await pruneCommand({ store: 'runs.db', endedBefore: '30d' }, io);
 * ```
 */
export async function pruneCommand(opts: PruneCommandOptions, io: Io, now: number = Date.now()): Promise<number> {
  const url = storeUrl(opts.store, io);
  if (url === undefined) return fail(io, 'runs prune needs --store <url> (or LLMO_STORE)');
  if (opts.endedBefore === undefined) return fail(io, 'runs prune needs --ended-before <age|time> (e.g. 30d, 12h, or 2026-11-01T00:00:00Z)');
  const before = cutOff(opts.endedBefore, now);
  if (before === undefined) return fail(io, `--ended-before ${opts.endedBefore}: expected an age (30d, 12h, 90m, 45s, 500ms, 2w) or an ISO 8601 time`);
  const statuses = opts.status === undefined ? [...ENDED_STATUSES] : opts.status.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = statuses.filter((s) => !(ENDED_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0 || statuses.length === 0) return fail(io, `--status ${opts.status}: expected ended statuses (${ENDED_STATUSES.join(', ')}); running and waiting runs are never pruned`);
  const opened = await openCliStore(url, io);
  if (!opened.ok) return opened.code;
  const store = opened.store;
  try {
    const deleted = await store.deleteRuns({ endedBefore: before, status: statuses as ('completed' | 'failed' | 'cancelled')[] });
    if (opts.json === true) io.out.write(`${JSON.stringify({ deleted, endedBefore: new Date(before).toISOString(), status: statuses })}\n`);
    else io.out.write(`deleted ${deleted} run(s) (${statuses.join(', ')}) that ended before ${new Date(before).toISOString()}\n`);
    return EXIT.ok;
  } catch (e) {
    return fail(io, `runs prune: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await store.close();
  }
}
