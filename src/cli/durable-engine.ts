/**
 * The durable engine a store command (`llmo recover`, `llmo signal --store`) works with:
 * its topology files loaded, its store opened, telemetry attached (see otel.ts), and one way to close them.
 * @module
 */
import type { AnyTopology } from '../definition/types.ts';
import { createEngine, type Engine } from '../runtime/engine.ts';
import type { RunStore } from '../runtime/store.ts';
import { modelsFromEnv } from './env.ts';
import { reportIssues, type Io } from './io.ts';
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
 * const opened = await openDurableEngine(['flow.ts'], 'runs.db', undefined, io);
 * if (opened.ok) try { await opened.engine.recover(); } finally { await opened.close(); }
 * ```
 */
export type DurableEngine =
  | { readonly ok: true; readonly engine: Engine; readonly store: RunStore; close(): Promise<void> }
  | { readonly ok: false; readonly code: number };

/**
 * Loads the topology files, opens the store at `url` and makes an engine on it with the models the
 * environment configures, with the CLI's telemetry attached (`command` names the service,
 * `llmo-<command>`; `slo` rules print their alerts on `io.err`). A file that does not load or a
 * store that does not open is reported on `io` and answered with its exit code.
 *
 * @example
 * ```ts
 * const opened = await openDurableEngine(files, url, opts.ops, io, { command: 'recover' });
 * if (!opened.ok) return opened.code;
 * ```
 */
export async function openDurableEngine(
  files: readonly string[], url: string, ops: string | undefined, io: Io, observe: { readonly command: string; readonly slo?: readonly SloRule[] | undefined },
): Promise<DurableEngine> {
  const topologies: AnyTopology[] = [];
  for (const file of files) {
    const loaded = await loadForCli(file, ops);
    if (!loaded.ok) return { ok: false, code: reportIssues(io, file, loaded.issues) };
    topologies.push(loaded.topology);
  }
  const opened = await openCliStore(url, io);
  if (!opened.ok) return opened;
  const store = opened.store;
  const env = io.env ?? process.env;
  // no stop path of their own: on SIGINT/SIGTERM the SDK is flushed, then the process exits
  const otel = await startCliTelemetry({
    command: observe.command, env, report: lineReport(io.err), exitOnSignal: true, ...(observe.slo === undefined ? {} : { alerts: observe.slo }),
  });
  const alerts = printAlerts(otel.alerts$, io.err);
  const engine = createEngine({ models: modelsFromEnv(env).models, store, topologies });
  const observed = otel.telemetry.attach(engine);
  return {
    ok: true, engine, store,
    close: async () => {
      await engine.shutdown();
      observed.unsubscribe();
      alerts.unsubscribe();
      await store.close().catch((e: unknown) => io.err.write(`llmo: warning: closing ${store.location}: ${(e as Error).message}\n`));
      await otel.shutdown();
    },
  };
}
