/**
 * `llmo recover --store <url> <topology-file...>`: finishes the runs a killed process
 * left in the store (the topologies given are the ones it can resume), then exits. The resumed
 * runs continue their recorded traces when the `OTEL_*` variables set up an SDK.
 * @module
 */
import { lastValueFrom, tap } from 'rxjs';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import { loadSlo } from '../slo.ts';
import { openDurableEngine } from '../durable-engine.ts';
import { storeUrl } from '../store-flag.ts';

/**
 * Options of `llmo recover`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: RecoverCommandOptions = { store: 'runs.db', limit: 1000, json: false };
 * ```
 */
export interface RecoverCommandOptions {
  readonly store?: string | undefined;
  readonly ops?: string | undefined;
  readonly limit?: number | undefined;
  readonly json?: boolean | undefined;
  /** `--slo <file>`: SLO rules (YAML or JSON) over the recovered runs; alerts are printed on stderr. */
  readonly slo?: string | undefined;
  /** `--governance <file>`: the policies and budgets the recovered runs are checked against (as `llmo run --governance`). */
  readonly governance?: string | undefined;
  /** `--audit <target>`: where the recovered runs' audit records go (as `llmo run --audit`). */
  readonly audit?: string | undefined;
}

/**
 * Recovers the unfinished runs of `files`' topologies; resolves with the exit code:
 * 0 every recovered run completed (or there was none), 1 one failed or could not be
 * resumed (e.g. TOPOLOGY_CHANGED), 2 invalid usage or topology.
 *
 * @example
 * ```ts
 * const code = await recoverCommand(['topologies/rag.ts'], { store: 'runs.db' }, io);
 * ```
 */
export async function recoverCommand(files: readonly string[], opts: RecoverCommandOptions, io: Io): Promise<number> {
  const url = storeUrl(opts.store, io);
  if (url === undefined) return fail(io, 'recover needs --store <url> (or LLMO_STORE)');
  const slo = await loadSlo(opts.slo);
  if (!slo.ok) return reportIssues(io, `--slo ${opts.slo}`, slo.issues);
  const opened = await openDurableEngine(files, url, opts.ops, io, { command: 'recover', slo: slo.rules, governance: opts.governance, audit: opts.audit });
  if (!opened.ok) return opened.code;
  const { engine, store } = opened;
  let bad = 0;
  try {
    const report = await engine.recover(opts.limit === undefined ? {} : { limit: opts.limit });
    for (const f of report.failed) {
      bad++;
      if (opts.json === true) io.out.write(`${JSON.stringify({ runId: f.runId, topology: f.topology, status: 'failed', error: { code: f.error.code, message: f.error.message } })}\n`);
      else io.err.write(`✗ ${f.runId} (${f.topology}): ${f.error.code}: ${f.error.message}\n`);
    }
    if (opts.json !== true) io.err.write(`resuming ${report.resumed.length} run(s) from ${store.location}\n`);
    await lastValueFrom(report.results.pipe(tap((r) => {
      if (r.status !== 'completed') bad++;
      if (opts.json === true) io.out.write(`${JSON.stringify({ runId: r.runId, topology: r.topology, status: r.status, output: r.output, ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message } }) })}\n`);
      else io.err.write(`${r.status === 'completed' ? '✓' : '✗'} ${r.runId} (${r.topology}) ${r.status}${r.error === undefined ? '' : `: ${r.error.message}`}\n`);
    })), { defaultValue: undefined });
  } catch (e) {
    return fail(io, `recovering from ${store.location}: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await opened.close();
  }
  return bad === 0 ? EXIT.ok : EXIT.runFailed;
}
