/**
 * `llmo runs state <runId> [--seq N | --at <iso time>] --store <url>`: a stored run's
 * state (statuses, outputs, usage) as of one event or one moment: the fold of its log
 * up to there (time travel).
 * @module
 */
import { foldRun } from '../../runtime/fold.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import { openCliStore, storeUrl } from '../store-flag.ts';

/**
 * Options of `llmo runs state`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: RunsStateOptions = { store: 'runs.db', seq: 4 };
 * ```
 */
export interface RunsStateOptions {
  readonly store?: string | undefined;
  /** As of this event (inclusive). */
  readonly seq?: number | undefined;
  /** As of this time (ISO 8601, inclusive). */
  readonly at?: string | undefined;
  readonly json?: boolean | undefined;
}

/**
 * Prints a run's state at `--seq` or `--at` (default: now); resolves with the exit code
 * (2 invalid usage, 1 unknown run or store failure).
 *
 * @example
 * ```ts
 * const code = await runsStateCommand('r1', { store: 'runs.db', at: '2025-01-01T12:00:00Z' }, io);
 * ```
 */
export async function runsStateCommand(id: string, opts: RunsStateOptions, io: Io): Promise<number> {
  const url = storeUrl(opts.store, io);
  if (url === undefined) return fail(io, 'runs state needs --store <url> (or LLMO_STORE)');
  if (opts.seq !== undefined && opts.at !== undefined) return fail(io, 'give --seq or --at, not both');
  const ts = opts.at === undefined ? undefined : Date.parse(opts.at);
  if (ts !== undefined && Number.isNaN(ts)) return fail(io, `--at ${opts.at}: expected an ISO 8601 time (e.g. 2025-01-01T12:00:00Z)`);
  const opened = await openCliStore(url, io);
  if (!opened.ok) return opened.code;
  const store = opened.store;
  try {
    const rec = await store.getRun(id);
    if (rec === undefined) return fail(io, `no run '${id}' in ${store.location}`, EXIT.runFailed);
    const events = await store.history(id, opts.seq !== undefined ? { toSeq: opts.seq } : ts !== undefined ? { untilTs: ts } : {});
    const state = foldRun(events, opts.seq !== undefined ? { seq: opts.seq } : ts !== undefined ? { ts } : {});
    if (opts.json === true) io.out.write(`${JSON.stringify(state)}\n`);
    else {
      const when = state.lastTs === undefined ? 'before its first event' : `at seq ${state.lastSeq} (${new Date(state.lastTs).toISOString()})`;
      io.out.write(`run ${rec.runId} · ${rec.topology} · ${state.status} ${when}\n`);
      for (const [node, n] of Object.entries(state.nodes)) {
        const out = n.status === 'completed' ? ` ${JSON.stringify(n.output)?.slice(0, 120) ?? ''}` : '';
        io.out.write(`  ${node.padEnd(20)} ${n.status}${out}\n`);
      }
      if (state.usage !== undefined) io.out.write(`usage: ${state.usage.calls} calls · ${state.usage.inputTokens} in / ${state.usage.outputTokens} out · $${state.usage.costUsd.toFixed(6)}\n`);
    }
    return EXIT.ok;
  } catch (e) {
    return fail(io, `${store.location}: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await store.close().catch((e: unknown) => io.err.write(`llmo: warning: closing ${store.location}: ${(e as Error).message}\n`));
  }
}
