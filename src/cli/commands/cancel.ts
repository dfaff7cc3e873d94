/**
 * `llmo cancel <runId> <topology-file...> --store <url> [--reason text]`: cancels a run
 * recorded in a store: a parked run (from any process, days later), one a killed process
 * left running, or one another live process runs (the request is stored; that process
 * cancels it at its next lease renewal). The topology files are the definitions the run may
 * have been recorded under.
 * @module
 */
import { isOrchestratorError } from '../../errors.ts';
import { ENDED_STATUSES } from '../../runtime/store.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import { openDurableEngine } from '../durable-engine.ts';
import { storeUrl } from '../store-flag.ts';

/**
 * Options of `llmo cancel`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: CancelCommandOptions = { store: 'runs.db', reason: 'the customer withdrew' };
 * ```
 */
export interface CancelCommandOptions {
  readonly store?: string | undefined;
  readonly reason?: string | undefined;
  readonly ops?: string | undefined;
  readonly json?: boolean | undefined;
  /** Where the run's end goes in the audit log (as `llmo run --audit`). */
  readonly audit?: string | undefined;
  /** A run another process holds: wait (up to `timeout` ms) until it has ended, and print how. */
  readonly wait?: boolean | undefined;
  readonly timeout?: number | undefined;
}

/** How often `--wait` looks at the run's row. */
const POLL_MS = 250;

/**
 * Cancels a stored run; resolves with the exit code: 0 it is cancelled (or ended on its own
 * meanwhile, or its holder was asked to), 1 refused (unknown run, ended, unregistered version) or,
 * with `--wait`, not ended in time; 2 invalid usage.
 *
 * @example
 * ```ts
 * const code = await cancelCommand('r1', ['topologies/approval.ts'], { store: 'runs.db', reason: 'withdrawn' }, io);
 * ```
 */
export async function cancelCommand(runId: string, files: readonly string[], opts: CancelCommandOptions, io: Io): Promise<number> {
  const url = storeUrl(opts.store, io);
  if (url === undefined) return fail(io, 'cancel needs --store <url> (or LLMO_STORE): the store the run is recorded in');
  if (files.length === 0) return fail(io, 'cancel needs the topology file(s) the run was recorded under');
  const opened = await openDurableEngine(files, url, opts.ops, io, { command: 'cancel', audit: opts.audit });
  if (!opened.ok) return opened.code;
  try {
    const receipt = await opened.engine.cancel(runId, opts.reason === undefined ? {} : { reason: opts.reason });
    if (receipt.requestedOf !== undefined) {
      if (opts.wait !== true) {
        if (opts.json === true) io.out.write(`${JSON.stringify({ runId, requestedOf: receipt.requestedOf })}\n`);
        else io.err.write(`cancellation requested: run '${runId}' runs in ${receipt.requestedOf}, which cancels it at its next lease renewal (see llmo runs show)\n`);
        return EXIT.ok;
      }
      io.err.write(`cancellation requested of ${receipt.requestedOf}; waiting for run '${runId}' to end ...\n`);
      const store = opened.engine.store!;
      const until = Date.now() + (opts.timeout ?? 60_000);
      for (;;) {
        const rec = await store.getRun(runId);
        if (rec !== undefined && ENDED_STATUSES.includes(rec.status)) {
          if (opts.json === true) io.out.write(`${JSON.stringify({ runId, status: rec.status, error: rec.error })}\n`);
          else io.err.write(endLine(runId, rec.topology, rec.status, rec.error));
          return EXIT.ok;
        }
        if (Date.now() >= until) return fail(io, `run '${runId}' has not ended within ${opts.timeout ?? 60_000} ms (its holder ${receipt.requestedOf} may be stuck or gone; its lease expires and recovery cancels it)`, EXIT.runFailed);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
    const r = await receipt.result;
    if (r === undefined) {
      io.err.write(`cancellation stored; run '${runId}' is cancelled by the process that resumes it\n`);
      return EXIT.ok;
    }
    if (opts.json === true) io.out.write(`${JSON.stringify(r)}\n`);
    else io.err.write(endLine(r.runId, r.topology, r.status, r.error));
    return EXIT.ok;
  } catch (e) {
    const what = isOrchestratorError(e) ? `${e.code}: ${e.message}` : String(e);
    return fail(io, `cancel run '${runId}': ${what}`, EXIT.runFailed);
  } finally {
    await opened.close();
  }
}

/** How a run ended, as one line: `■ r1 (approval) cancelled: run cancelled: withdrawn`. */
function endLine(runId: string, topology: string, status: string, error: { readonly message: string } | undefined): string {
  return `${status === 'cancelled' ? '■' : status === 'completed' ? '✓' : '✗'} ${runId} (${topology}) ${status}${error === undefined ? '' : `: ${error.message}`}\n`;
}
