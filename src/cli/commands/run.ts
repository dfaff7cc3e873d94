/**
 * `llmo run <topology>`: runs a topology once in this process and shows node
 * progress as it happens (or, with `--json`, prints only the result).
 * @module
 */
import { serializeError, toIssues } from '../../errors.ts';
import { createEngine } from '../../runtime/engine.ts';
import type { Priority } from '../../definition/types.ts';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import { readInput } from '../input.ts';
import { loadForCli } from '../load.ts';
import { withGuards } from '../engine-options.ts';
import { modelsFromEnv } from '../env.ts';
import { printProgress } from '../progress.ts';
import { openCliStore, storeUrl } from '../store-flag.ts';
import type { RunStore } from '../../runtime/store.ts';
import { traceContextOf } from '../../runtime/trace-context.ts';
import { startCliTelemetry } from '../otel.ts';
import { lineReport } from '../otel-report.ts';
import { loadSlo, printAlerts } from '../slo.ts';
import { loadGovernance } from '../governance.ts';
import { openCliAudit, type CliAudit } from '../audit-flag.ts';

/**
 * Options of `llmo run`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: RunCommandOptions = { input: '{"question":"why?"}', priority: 'normal', tokens: true };
 * ```
 */
export interface RunCommandOptions {
  readonly input?: string;
  readonly json?: boolean;
  readonly priority: Priority;
  readonly deadline?: number;
  readonly ops?: string;
  readonly tokens: boolean;
  /** Records the run in this store (`--store`, or `LLMO_STORE`): `llmo recover` finishes it if this process dies. */
  readonly store?: string | undefined;
  /** `--slo <file>`: SLO rules (YAML or JSON) evaluated over the run; alerts are printed on stderr. */
  readonly slo?: string | undefined;
  /** `--governance <file>`: policy rules and budgets the run is checked against (see governance.ts). */
  readonly governance?: string | undefined;
  /** `--audit <target>`: audit records of the run (a `.jsonl` file or a store database). */
  readonly audit?: string | undefined;
  /** Who the run is for: `--tenant`, `--user`, `--project` (rules match on them; usage is attributed to them). */
  readonly tenant?: string | undefined;
  readonly user?: string | undefined;
  readonly project?: string | undefined;
}

/**
 * Runs `file` once; resolves with the exit code. The run is traced and measured when the `OTEL_*`
 * variables set up an SDK (see otel.ts); a `TRACEPARENT` variable makes its trace a child of that span.
 *
 * @example
 * ```ts
 * const code = await runCommand('topologies/rag.ts', { input: '{"question":"why?"}', priority: 'normal', tokens: true }, io);
 * ```
 */
export async function runCommand(file: string, opts: RunCommandOptions, io: Io): Promise<number> {
  const input = await readInput(opts.input);
  if (!input.ok) return fail(io, input.message);
  const loaded = await loadForCli(file, opts.ops);
  if (!loaded.ok) return reportIssues(io, file, loaded.issues);
  const t = loaded.topology;
  // The input is the user's: a schema mismatch is a usage error (exit 2), reported once, before any run starts.
  const checked = t.input?.safeParse(input.value);
  if (checked !== undefined && !checked.success) return reportIssues(io, `--input for topology '${t.name}'`, toIssues(checked.error.issues, ['input']));

  const vars = io.env ?? process.env;
  const slo = await loadSlo(opts.slo);
  if (!slo.ok) return reportIssues(io, `--slo ${opts.slo}`, slo.issues);
  const env = modelsFromEnv(vars);
  const url = storeUrl(opts.store, io);
  let store: RunStore | undefined;
  if (url !== undefined) {
    const opened = await openCliStore(url, io);
    if (!opened.ok) return opened.code;
    store = opened.store;
  }
  const problem = (m: string): void => {
    io.err.write(`llmo: ${m}\n`);
  };
  const gov = await loadGovernance(opts.governance, { storeUrl: url, onProblem: problem });
  if (!gov.ok) {
    await store?.close().catch(() => undefined);
    return reportIssues(io, `--governance ${opts.governance}`, gov.issues);
  }
  let audit: CliAudit | undefined;
  if (opts.audit !== undefined) {
    try {
      audit = await openCliAudit(opts.audit, { actor: 'llmo-run', onError: problem });
    } catch (e) {
      await Promise.all([store?.close().catch(() => undefined), gov.close().catch(() => undefined)]);
      return fail(io, `--audit ${opts.audit}: ${(e as Error).message}`);
    }
  }
  const otel = await startCliTelemetry({ command: 'run', env: vars, report: lineReport(io.err), ...(slo.rules === undefined ? {} : { alerts: slo.rules }) });
  const alerts = printAlerts(otel.alerts$, io.err);
  const engine = createEngine({
    models: env.models, ...withGuards(loaded.engineOptions, gov.guards), ...(store === undefined ? {} : { store }),
  });
  const observed = otel.telemetry.attach(engine);
  const audited = audit?.attach(engine.events$);
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted (SIGINT)'));
  const onSigterm = (): void => controller.abort(new Error('terminated (SIGTERM)'));
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  const traceContext = traceContextOf({ traceparent: vars['TRACEPARENT'], tracestate: vars['TRACESTATE'] });
  const runId = `cli-${Date.now().toString(36)}${store === undefined ? '' : `-${Math.random().toString(36).slice(2, 8)}`}`;
  if (store !== undefined && !opts.json) io.err.write(`  recording run ${runId} in ${store.location}\n`);
  if (!opts.json) {
    io.err.write(`▶ ${t.name}${t.description ? ` — ${t.description}` : ''}\n`);
    if (t.nodes.some((n) => n.kind === 'llm')) {
      io.err.write(`  model 'default' = ${env.defaultModel}${env.simulated ? ' (SIMULATED: set OPENAI_API_KEY, OPENAI_BASE_URL or ANTHROPIC_API_KEY for a real model)' : ''}\n`);
    }
  }
  const progress = opts.json ? undefined : printProgress(engine.events$, runId, io.err, io.color, opts.tokens);
  let result;
  try {
    result = await engine.run(t, input.value, {
      signal: controller.signal, priority: opts.priority, runId,
      ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
      ...(opts.user === undefined ? {} : { user: opts.user }),
      ...(opts.project === undefined ? {} : { project: opts.project }),
      ...(opts.deadline === undefined ? {} : { deadlineMs: opts.deadline }),
      ...(traceContext === undefined ? {} : { traceContext }),
    });
  } catch (e) {
    // compile errors (e.g. a pool the engine options do not define) are the topology's
    const s = serializeError(e);
    return reportIssues(io, file, s.issues ?? [{ code: s.code, path: [], message: s.message }]);
  } finally {
    progress?.unsubscribe();
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigterm);
    await engine.shutdown({ mode: 'cancel' });
    observed.unsubscribe();
    alerts.unsubscribe();
    audited?.unsubscribe();
    await audit?.close().catch((e: unknown) => problem(`audit: closing ${audit?.where}: ${(e as Error).message}`));
    await gov.close().catch((e: unknown) => problem(`governance: closing the budget ledger: ${(e as Error).message}`));
    await store?.close().catch((e: unknown) => io.err.write(`llmo: warning: closing ${store?.location}: ${(e as Error).message}\n`));
    // after the engine: its last spans and metrics are in, then flushed to the exporters
    await otel.shutdown();
  }
  if (opts.json) {
    io.out.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const ms = result.endedAt - result.startedAt;
    if (result.status === 'completed') {
      const u = result.usage;
      io.err.write(`✓ completed in ${ms} ms${u.calls > 0 ? ` · ${u.calls} model calls · ${u.inputTokens} in / ${u.outputTokens} out tokens · $${u.costUsd.toFixed(6)}` : ''}\n`);
      io.out.write(`${typeof result.output === 'string' ? result.output : JSON.stringify(result.output ?? result.outputs, null, 2)}\n`);
    } else if (result.status === 'waiting') {
      const w = result.wait;
      io.err.write(`⏸ parked after ${ms} ms on wait '${w.name}' (node ${w.nodeId}${w.timeoutAt === undefined ? '' : `, times out ${new Date(w.timeoutAt).toISOString()}`}); resume with: llmo signal ${result.runId} ${w.name} ${file} --payload <json> --store ${store?.location ?? '<url>'}\n`);
    } else {
      // The message of an error with issues already lists them (one per line).
      io.err.write(`✗ ${result.status} after ${ms} ms: ${result.error.message}\n`);
      io.err.write(`  completed nodes: ${Object.keys(result.outputs).join(', ') || 'none'}\n`);
    }
  }
  return result.status === 'completed' || result.status === 'waiting' ? EXIT.ok : result.status === 'cancelled' ? EXIT.cancelled : EXIT.runFailed;
}
