/**
 * The durable engine a store command (`llmo recover`, `llmo signal --store`) works with:
 * its topology files loaded (with the engine options they export), its store opened, the
 * command's governance and audit log, telemetry attached (see otel.ts), and one way to close them.
 * @module
 */
import type { AnyTopology } from '../definition/types.ts';
import { createEngine, type Engine } from '../runtime/engine.ts';
import type { RunStore } from '../runtime/store.ts';
import { openCliAudit, type CliAudit } from './audit-flag.ts';
import { mergeEngineOptions, withGuards, type EngineOptionsPart } from './engine-options.ts';
import { modelsFromEnv } from './env.ts';
import { loadGovernance } from './governance.ts';
import { fail, reportIssues, type Io } from './io.ts';
import { loadForCli } from './load.ts';
import { openCliStore } from './store-flag.ts';
import type { SloRule } from '../observability/alerts.ts';
import { startCliTelemetry } from './otel.ts';
import { lineReport } from './otel-report.ts';
import { printAlerts } from './slo.ts';

/**
 * An engine on a store, and how to close them (engine first, then the store, then telemetry is flushed;
 * a failing close is a warning).
 *
 * @example
 * ```ts
 * const opened = await openDurableEngine(['flow.ts'], 'runs.db', undefined, io, { command: 'recover' });
 * if (opened.ok) try { await opened.engine.recover(); } finally { await opened.close(); }
 * ```
 */
export type DurableEngine =
  | { readonly ok: true; readonly engine: Engine; readonly store: RunStore; close(): Promise<void> }
  | { readonly ok: false; readonly code: number };

/**
 * What a store command adds to its engine besides the topology files.
 *
 * @example
 * ```ts
 * const setup: DurableEngineSetup = { command: 'recover', governance: 'governance.yaml', audit: 'audit.jsonl' };
 * ```
 */
export interface DurableEngineSetup {
  /** Names the telemetry service (`llmo-<command>`) and the audit actor. */
  readonly command: string;
  /** SLO rules; their alerts are printed on `io.err`. */
  readonly slo?: readonly SloRule[] | undefined;
  /**
   * `--governance <file>`: the policies and budgets the resumed runs are checked against, as
   * `llmo run` checks a run (give the file the runs were started with: a store does not record it).
   */
  readonly governance?: string | undefined;
  /** `--audit <target>`: where the resumed runs' audit records go, as with `llmo run --audit`. */
  readonly audit?: string | undefined;
}

/**
 * Loads the topology files, opens the store at `url` and makes an engine on it with the models the
 * environment configures, the engine options the files export (their pools, guards and the rest:
 * see {@link mergeEngineOptions}), the setup's governance and audit log, and the CLI's telemetry.
 * A file, governance file or audit target that does not load, or a store that does not open, is
 * reported on `io` and answered with its exit code (what was opened by then is closed).
 *
 * @example
 * ```ts
 * const opened = await openDurableEngine(files, url, opts.ops, io, { command: 'recover', governance: opts.governance });
 * if (!opened.ok) return opened.code;
 * ```
 */
export async function openDurableEngine(
  files: readonly string[], url: string, ops: string | undefined, io: Io, setup: DurableEngineSetup,
): Promise<DurableEngine> {
  const topologies: AnyTopology[] = [];
  const parts: EngineOptionsPart[] = [];
  for (const file of files) {
    const loaded = await loadForCli(file, ops);
    if (!loaded.ok) return { ok: false, code: reportIssues(io, file, loaded.issues) };
    topologies.push(loaded.topology);
    parts.push({ file, options: loaded.engineOptions });
  }
  const merged = mergeEngineOptions(parts);
  if (!merged.ok) return { ok: false, code: reportIssues(io, `the engine options of ${files.join(', ')}`, merged.issues) };
  const opened = await openCliStore(url, io);
  if (!opened.ok) return opened;
  const store = opened.store;
  const closeStore = (): Promise<void> =>
    store.close().catch((e: unknown) => void io.err.write(`llmo: warning: closing ${store.location}: ${(e as Error).message}\n`));
  const problem = (m: string): void => void io.err.write(`llmo: ${m}\n`);
  const gov = await loadGovernance(setup.governance, { storeUrl: url, onProblem: problem });
  if (!gov.ok) {
    await closeStore();
    return { ok: false, code: reportIssues(io, `--governance ${setup.governance}`, gov.issues) };
  }
  let audit: CliAudit | undefined;
  if (setup.audit !== undefined) {
    try {
      audit = await openCliAudit(setup.audit, { actor: `llmo-${setup.command}`, onError: problem });
    } catch (e) {
      await Promise.all([closeStore(), gov.close().catch(() => undefined)]);
      return { ok: false, code: fail(io, `--audit ${setup.audit}: ${(e as Error).message}`) };
    }
  }
  const env = io.env ?? process.env;
  // no stop path of their own: on SIGINT/SIGTERM the SDK is flushed, then the process exits
  const otel = await startCliTelemetry({
    command: setup.command, env, report: lineReport(io.err), exitOnSignal: true, ...(setup.slo === undefined ? {} : { alerts: setup.slo }),
  });
  const alerts = printAlerts(otel.alerts$, io.err);
  const engine = createEngine({ models: modelsFromEnv(env).models, ...withGuards(merged.options, gov.guards), store, topologies });
  const observed = otel.telemetry.attach(engine);
  const audited = audit?.attach(engine.events$);
  return {
    ok: true, engine, store,
    close: async () => {
      await engine.shutdown();
      observed.unsubscribe();
      alerts.unsubscribe();
      audited?.unsubscribe();
      await audit?.close().catch((e: unknown) => problem(`warning: closing the audit log ${audit?.where}: ${(e as Error).message}`));
      await gov.close().catch((e: unknown) => problem(`warning: closing the budget ledger: ${(e as Error).message}`));
      await closeStore();
      await otel.shutdown();
    },
  };
}
