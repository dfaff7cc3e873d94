/**
 * `llmo worker <topology>`: serves a topology from Kafka in a consumer group
 * until SIGINT/SIGTERM, then finishes the runs in flight. The Kafka settings come
 * from flags, `--kafka-config` and `KAFKA_*` (see kafka-config.ts). A broker that
 * cannot be reached is one line and exit 69, refused credentials exit 77, bad
 * settings exit 2, all before anything starts. With `--health-port` it serves
 * `/healthz` and `/readyz`; a worker that stays down longer than
 * `--exit-on-down-ms` is stopped and exits 1.
 *
 * With `--loop` the worker runs a feedback loop (`createLoop`, given to both its
 * engine and the worker): the topology's experiment assigns variants, the policies
 * topic applies (all of it before the first request, then live), every feedback
 * message reaches the loop, and evaluation requests (`--sample-rate` of the runs)
 * and experience records are published. The loop is explicit, never implied by
 * the topology: without `--loop` a topology runs as written (no variants, no policies).
 *
 * Observability: the engine's runs, nodes and model calls are traced and measured (telemetry from
 * src/observability; exported as the `OTEL_*` variables say, see otel.ts), request traces continue
 * across workers, `/metrics` on the health port is the Prometheus scrape, logs are pino JSON lines
 * with trace ids, per-component levels (`LOG_LEVEL`, `LOG_LEVELS`) and no secrets (logging.ts), and
 * `--slo` alerts are log lines.
 * @module
 */
import { createLoop } from '../../loops/loop.ts';
import { createEngine } from '../../runtime/engine.ts';
import { redactKafkaOptions } from '../../transports/kafka/security.ts';
import { createWorker } from '../../worker/worker.ts';
import { untilStopped } from '../down-watch.ts';
import { EXIT } from '../exit.ts';
import { healthFlag } from '../health-server.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import { loadForCli } from '../load.ts';
import { withGuards } from '../engine-options.ts';
import { modelsFromEnv } from '../env.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { openKafka } from '../kafka.ts';
import { probeKafka } from '../connect.ts';
import { openCliStore, storeUrl } from '../store-flag.ts';
import type { RunStore } from '../../runtime/store.ts';
import { createCliLogger, parseLogLevels } from '../logging.ts';
import { startCliTelemetry } from '../otel.ts';
import { loadSlo, logAlerts } from '../slo.ts';
import { loadGovernance } from '../governance.ts';
import { followGovernance } from '../governance-follow.ts';
import { openCliAudit, type CliAudit } from '../audit-flag.ts';

/**
 * Options of `llmo worker`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: WorkerCommandOptions = { brokers: '127.0.0.1:9092', maxInFlight: 16, exitOnDownMs: 30_000 };
 * ```
 */
export interface WorkerCommandOptions extends KafkaFlags {
  /** Consumer group; default: the library's, derived from the prefix. */
  readonly group?: string | undefined;
  readonly maxInFlight: number;
  readonly ops?: string | undefined;
  readonly workerId?: string | undefined;
  /** `--no-tokens`: false turns token and event publishing off. */
  readonly tokens?: boolean | undefined;
  readonly offsetReset?: 'earliest' | 'latest' | undefined;
  readonly healthPort?: number | undefined;
  /** Stop and exit 1 when the health stays down this long, ms; 0: never. */
  readonly exitOnDownMs: number;
  /**
   * Records every run in this store (`--store`, or `LLMO_STORE`) under its request id and recovers
   * unfinished ones on start; a redelivered request resumes its run from the store, or gets its
   * stored result again when the run already ended (see src/worker/durable.ts).
   */
  readonly store?: string | undefined;
  /** `--loop`: run a feedback loop (experiments, policies, feedback, evaluation requests). */
  readonly loop?: boolean | undefined;
  /** `--sample-rate`: share of runs sent for evaluation (default 1; a policy's `evaluation` wins). */
  readonly sampleRate?: number | undefined;
  /** `--seed`: seed of the loop's bandits and sampling (default 1). */
  readonly seed?: number | undefined;
  /** `--slo <file>`: SLO rules (YAML or JSON); each alert is a log line. */
  readonly slo?: string | undefined;
  /**
   * `--governance <file>`: policy rules and budgets every run, model call and tool call is checked
   * against; later rule documents arrive on the policies topic (target `governance`) and apply live.
   */
  readonly governance?: string | undefined;
  /** `--audit <target>`: audit records of every run: `kafka` (the audit topic), a `.jsonl` file, or a store database. */
  readonly audit?: string | undefined;
}

/**
 * Serves `file` until SIGINT/SIGTERM (or `stop` aborts); resolves with the exit code.
 *
 * @example
 * ```ts
 * const code = await workerCommand('topologies/rag.ts', { brokers: '127.0.0.1:9092', maxInFlight: 16, exitOnDownMs: 30_000 }, io);
 * ```
 */
export async function workerCommand(file: string, opts: WorkerCommandOptions, io: Io, stop?: AbortSignal): Promise<number> {
  const loaded = await loadForCli(file, opts.ops);
  if (!loaded.ok) return reportIssues(io, file, loaded.issues);
  const env = io.env ?? process.env;
  const levels = parseLogLevels(env);
  if (!levels.ok) return reportIssues(io, 'the LOG_LEVEL and LOG_LEVELS variables', levels.issues);
  const slo = await loadSlo(opts.slo);
  if (!slo.ok) return reportIssues(io, `--slo ${opts.slo}`, slo.issues);
  // a fail-fast probe creates (or checks) the topics; the worker's own transport keeps kafkajs's patient retries
  const probed = await probeKafka(opts, io, 'llmo-worker');
  if (!probed.ok) return probed.code;
  const kafka = probed.options;

  // JSON lines on io.err (stderr, or a test's capture)
  const logger = createCliLogger({ levels: levels.value, env, destination: io.err, secrets: kafka.sasl === undefined ? [] : [kafka.sasl.password] });
  logger.debug({ kafka: redactKafkaOptions(kafka) }, 'kafka settings');
  const url = storeUrl(opts.store, io);
  let store: RunStore | undefined;
  if (url !== undefined) {
    const opened = await openCliStore(url, io, logger);
    if (!opened.ok) return opened.code;
    store = opened.store;
  }
  const govLog = logger.child({ component: 'governance' });
  const gov = await loadGovernance(opts.governance, { storeUrl: url, onProblem: (m) => govLog.error(m) });
  if (!gov.ok) {
    await store?.close().catch(() => undefined);
    return reportIssues(io, `--governance ${opts.governance}`, gov.issues);
  }
  const loop = opts.loop === true ? createLoop({
    topologies: [loaded.topology],
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.sampleRate === undefined ? {} : { evaluation: { sampleRate: opts.sampleRate } }),
  }) : undefined;
  const otelLog = logger.child({ component: 'otel' });
  const otel = await startCliTelemetry({
    command: 'worker', env, report: (level, message) => otelLog[level](message),
    prometheus: opts.healthPort !== undefined, resourceMetrics: true, ...(slo.rules === undefined ? {} : { alerts: slo.rules }),
  });
  const alerts = logAlerts(otel.alerts$, logger);
  const engine = createEngine({
    models: modelsFromEnv(env).models, logger, ...withGuards(loaded.engineOptions, gov.guards),
    ...(store === undefined ? {} : { store, topologies: [loaded.topology] }), ...(loop === undefined ? {} : { loop }),
  });
  const observed = otel.telemetry.attach(engine);
  const closeOtel = async (): Promise<void> => {
    observed.unsubscribe();
    alerts.unsubscribe();
    await gov.close().catch((e: unknown) => govLog.error({ err: e }, 'closing the budget ledger failed'));
    await otel.shutdown();
  };
  let audit: CliAudit | undefined;
  /** A failure before serving: closes what is open (a PostgreSQL store's pool would keep the process alive). */
  const giveUp = async (transport?: { close(): Promise<void> }): Promise<void> => {
    await transport?.close().catch(() => undefined);
    await engine.shutdown();
    await audit?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await closeOtel();
  };
  const opened = openKafka({ ...kafka, logger });
  if (!opened.ok) {
    await giveUp();
    return reportIssues(io, 'the Kafka settings', opened.issues);
  }
  const transport = opened.transport;
  const worker = createWorker({
    engine, transport, topologies: [loaded.topology], maxInFlight: opts.maxInFlight, logger, telemetry: otel.telemetry,
    ...(opts.group === undefined ? {} : { group: opts.group }),
    ...(opts.workerId === undefined ? {} : { workerId: opts.workerId }),
    ...(opts.tokens === false ? { publish: false } : {}),
    ...(opts.offsetReset === undefined ? {} : { offsetReset: opts.offsetReset }),
    ...(loop === undefined ? {} : { loop }),
  });
  if (opts.audit !== undefined) {
    try {
      audit = await openCliAudit(opts.audit, { actor: worker.id, transport, onError: (m) => logger.child({ component: 'audit' }).error(m) });
    } catch (e) {
      await giveUp(transport);
      return fail(io, `--audit ${opts.audit}: ${(e as Error).message}`);
    }
  }
  const audited = audit?.attach(engine.events$);
  let serving = false;
  const started = await healthFlag(opts.healthPort, { health: worker.health, ready: () => serving, metrics: otel.metricsHandler });
  if (!started.ok) {
    audited?.unsubscribe();
    await giveUp(transport);
    return fail(io, started.message);
  }
  const health = started.server;
  let down: string | undefined;
  const life = untilStopped({ health: worker.health, exitOnDownMs: opts.exitOnDownMs, signal: stop, onDown: (r) => logger.error({ health: r }, 'worker down for good: stopping') });
  try {
    if (store !== undefined) {
      // runs a dead process left unfinished go on here before new requests are served
      const report = await engine.recover();
      for (const f of report.failed) logger.error({ runId: f.runId, code: f.error.code }, f.error.message);
      report.results.subscribe((r) => logger.info({ runId: r.runId, status: r.status }, 'recovered run ended'));
      io.err.write(`recovered ${report.resumed.length} run(s) from ${store.location}${report.failed.length === 0 ? '' : ` (${report.failed.length} could not be resumed)`}\n`);
    }
    // rule documents published after the file (llmo policy apply, target governance) apply before serving, then live
    const governed = gov.policy === undefined ? undefined : await followGovernance(transport, gov.policy, govLog);
    try {
      await worker.start();
    } catch (e) {
      governed?.unsubscribe();
      throw e;
    }
    serving = true;
    const group = worker.group;
    const policies = loop?.policies(loaded.topology.name).map((p) => `, policy v${p.version}`).join('') ?? '';
    io.err.write(`worker ${worker.id} serving '${loaded.topology.name}' in group '${group}' (max ${opts.maxInFlight} in flight${loop === undefined ? '' : `, feedback loop${policies}`}${health === undefined ? '' : `, health on :${health.port}`}); Ctrl-C to stop\n`);
    down = await life.stopped;
    io.err.write(down === undefined ? 'stopping: finishing runs in flight...\n' : `llmo: ${down}; stopping\n`);
    serving = false;
    await worker.stop();
    governed?.unsubscribe();
  } catch (e) {
    down = `the worker failed: ${(e as Error).message}`;
    io.err.write(`llmo: ${down}\n`);
  } finally {
    life.stop(); // a failure before it ended: its listeners go
    await health?.close();
    await engine.shutdown();
    audited?.unsubscribe();
    await audit?.close().catch((e: unknown) => logger.error({ err: e }, `closing the audit log (${audit?.where}) failed`));
    await transport.close().catch(() => undefined);
    await store?.close().catch((e: unknown) => logger.warn({ err: e }, 'closing the run store failed'));
    // after the engine and the worker: the last spans and metrics are in, then flushed
    await closeOtel();
  }
  io.err.write(`stopped after ${worker.handled} requests\n`);
  return down === undefined ? EXIT.ok : EXIT.runFailed;
}
