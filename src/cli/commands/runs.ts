/**
 * `llmo runs ls|show|history --store <url>`: reads the runs a store holds.
 * @module
 */
import { isStoreError } from '../../errors.ts';
import { foldRun, type FoldedRun } from '../../runtime/fold.ts';
import type { RunRecord, StoredRunStatus } from '../../runtime/store.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import { openCliStore, storeUrl } from '../store-flag.ts';

const STATUSES: readonly StoredRunStatus[] = ['running', 'waiting', 'completed', 'failed', 'cancelled'];

/**
 * Options of `llmo runs ...`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: RunsCommandOptions = { store: 'runs.db', status: 'running,failed', limit: 20, json: true };
 * ```
 */
export interface RunsCommandOptions {
  readonly store?: string | undefined;
  /** Comma-separated statuses (ls). */
  readonly status?: string | undefined;
  readonly topology?: string | undefined;
  /** Only this tenant's runs (ls). */
  readonly tenant?: string | undefined;
  readonly limit?: number | undefined;
  /** The page after the one that printed this cursor (ls). */
  readonly cursor?: string | undefined;
  readonly json?: boolean | undefined;
}

/**
 * Runs `llmo runs <action> [id]`; resolves with the exit code (2 invalid usage, 1 unknown run or store failure).
 *
 * @example
 * ```ts
 * const code = await runsCommand('ls', undefined, { store: 'runs.db' }, io);
 * ```
 */
export async function runsCommand(action: 'ls' | 'show' | 'history', id: string | undefined, opts: RunsCommandOptions, io: Io): Promise<number> {
  const url = storeUrl(opts.store, io);
  if (url === undefined) return fail(io, `runs ${action} needs --store <url> (or LLMO_STORE)`);
  const statuses = opts.status === undefined ? undefined : opts.status.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = statuses?.filter((s) => !(STATUSES as readonly string[]).includes(s)) ?? [];
  if (unknown.length > 0) return fail(io, `--status ${unknown.join(',')}: expected ${STATUSES.join(', ')}`);
  if (action !== 'ls' && id === undefined) return fail(io, `runs ${action} needs a run id`);
  const opened = await openCliStore(url, io);
  if (!opened.ok) return opened.code;
  const store = opened.store;
  try {
    if (action === 'ls') {
      const { runs, next } = await store.listRuns({
        ...(statuses === undefined ? {} : { status: statuses as StoredRunStatus[] }),
        ...(opts.topology === undefined ? {} : { topology: opts.topology }),
        ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
        ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
        limit: opts.limit ?? 50,
      });
      if (opts.json === true) for (const r of runs) io.out.write(`${JSON.stringify(r)}\n`);
      else io.out.write(table(runs));
      // stderr, so stdout stays the runs alone (one JSON line each with --json)
      if (next !== undefined) io.err.write(`more runs: add --cursor ${next}\n`);
      return EXIT.ok;
    }
    const rec = await store.getRun(id!);
    if (rec === undefined) return fail(io, `no run '${id}' in ${store.location}`, EXIT.runFailed);
    const events = await store.history(id!);
    if (action === 'history') {
      if (opts.json === true) for (const e of events) io.out.write(`${JSON.stringify(e)}\n`);
      else for (const e of events) io.out.write(`${String(e.seq).padStart(4)}  ${new Date(e.ts).toISOString()}  ${e.type.padEnd(18)} ${e.nodeId ?? ''}\n`);
      return EXIT.ok;
    }
    const state = foldRun(events);
    if (opts.json === true) io.out.write(`${JSON.stringify({ run: rec, state }, null, 2)}\n`);
    else {
      io.out.write(`run ${rec.runId} · ${rec.topology} (${shortVersion(rec.version)}) · ${rec.status}${rec.tenant === undefined ? '' : ` · tenant ${rec.tenant}`}\n`);
      io.out.write(`created ${new Date(rec.createdAt).toISOString()} · updated ${new Date(rec.updatedAt).toISOString()} · ${rec.lastSeq + 1} events\n`);
      const who = whoLine(state);
      if (who !== '') io.out.write(`${who}\n`);
      if (rec.leaseOwner !== undefined) io.out.write(`lease ${rec.leaseOwner} until ${new Date(rec.leaseUntil ?? 0).toISOString()}\n`);
      if (rec.status === 'running') {
        const [asked] = await store.cancelRequests?.([rec.runId]) ?? [];
        if (asked !== undefined) io.out.write(`cancel requested ${new Date(asked.at).toISOString()}${asked.reason === undefined ? '' : ` (${asked.reason})`}: its holder cancels it at its next lease renewal\n`);
      }
      if (rec.status === 'waiting' && rec.wait !== undefined) {
        const until = rec.wait.timeoutAt === undefined ? '' : ` until ${new Date(rec.wait.timeoutAt).toISOString()}`;
        io.out.write(`waits for signal '${rec.wait.name}' at node '${rec.wait.nodeId}'${until}; resume with: llmo signal ${rec.runId} ${rec.wait.name} <topology-file> --payload <json> --store ${store.location}\n`);
        io.out.write(`or cancel it: llmo cancel ${rec.runId} <topology-file> --store ${store.location}\n`);
      }
      for (const [node, n] of Object.entries(state.nodes)) {
        io.out.write(`  ${node.padEnd(20)} ${n.status}${n.status === 'completed' ? ` ${short(n.output)}` : ''}\n`);
      }
      if (rec.status === 'completed') io.out.write(`output: ${short(rec.output, 400)}\n`);
      if (rec.error !== undefined) io.out.write(`error: ${rec.error.code}: ${rec.error.message}\n`);
    }
    return EXIT.ok;
  } catch (e) {
    if (opts.cursor !== undefined && isStoreError(e) && e.code === 'STORE_INVALID') return fail(io, `--cursor ${opts.cursor}: not a cursor a page of runs ls printed`);
    return fail(io, `${store.location}: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await store.close().catch((e: unknown) => io.err.write(`llmo: warning: closing ${store.location}: ${(e as Error).message}\n`));
  }
}

/** Who the run is for and how it runs, as its first `run.started` recorded: `user u · project p · priority high · deadline …`. */
function whoLine(state: FoldedRun): string {
  const parts: string[] = [];
  if (state.user !== undefined) parts.push(`user ${state.user}`);
  if (state.project !== undefined) parts.push(`project ${state.project}`);
  if (state.priority !== undefined && state.priority !== 'normal') parts.push(`priority ${state.priority}`);
  if (state.deadline !== undefined) parts.push(`deadline ${new Date(state.deadline).toISOString()} (${state.deadlineMs} ms)`);
  return parts.join(' · ');
}

function short(v: unknown, max = 60): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function table(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return 'no runs\n';
  const rows = [['RUN', 'TOPOLOGY', 'STATUS', 'TENANT', 'UPDATED', 'EVENTS', 'OWNER'], ...runs.map((r) => [
    r.runId, r.topology, r.status, r.tenant ?? '', new Date(r.updatedAt).toISOString(), String(r.lastSeq + 1), r.leaseOwner ?? '',
  ])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** A computed version (`v2:` and 64 hex digits) abbreviated; a version of your own as it is. */
function shortVersion(v: string): string {
  return /^v[12]:[0-9a-f]{64}$/.test(v) ? `${v.slice(0, 15)}…` : v;
}
