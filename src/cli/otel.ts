/**
 * The CLI's OpenTelemetry: which `OTEL_*` variables start the SDK, starting it, and flushing it on
 * the way out. When `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * `OTEL_TRACES_EXPORTER` or `OTEL_METRICS_EXPORTER` is set (and `OTEL_SDK_DISABLED` is not `true`),
 * the NodeSDK is imported and started: exporters, sampler (`OTEL_TRACES_SAMPLER`, `_ARG`), resource
 * (`OTEL_RESOURCE_ATTRIBUTES`) and propagators as the variables say (the SDK reads them from
 * `process.env`), service name `OTEL_SERVICE_NAME` or `llmo-<command>`, no auto-instrumentation.
 * Without them nothing of the SDK is loaded. `llmo worker` always gets a Prometheus reader
 * (served as `GET /metrics` by its health server): with the SDK as one more metric reader, without
 * it on a MeterProvider of its own. An exporter that fails (an unreachable endpoint) is reported
 * once per distinct error through `report`, never thrown.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DiagLogLevel, context, diag, metrics, propagation, trace, type Meter } from '@opentelemetry/api';
import type { SloRule } from '../observability/alerts.ts';
import { createTelemetry, INSTRUMENTATION_SCOPE, type Telemetry } from '../observability/telemetry.ts';
import { argText, onceDiagLogger, type OtelReportLevel } from './otel-report.ts';
import { startResourceMetrics } from './otel-resources.ts';

/**
 * The variables any of which turns the SDK on.
 *
 * @example
 * ```ts
 * OTEL_TRIGGERS.includes('OTEL_EXPORTER_OTLP_ENDPOINT'); // true
 * ```
 */
export const OTEL_TRIGGERS = Object.freeze(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER'] as const);

/**
 * What the environment asks of the CLI's OpenTelemetry.
 *
 * @example
 * ```ts
 * const plan: OtelPlan = { sdk: true, serviceName: 'llmo-run' };
 * ```
 */
export interface OtelPlan {
  /** Start the SDK (a trigger variable is set and `OTEL_SDK_DISABLED` is not `true`). */
  readonly sdk: boolean;
  /** The service name the CLI sets; undefined when `OTEL_SERVICE_NAME` or a `service.name` resource attribute names it. */
  readonly serviceName: string | undefined;
}

/**
 * Reads the plan from the environment, without loading anything.
 *
 * @example
 * ```ts
 * otelPlan({ OTEL_TRACES_EXPORTER: 'console' }, 'run'); // { sdk: true, serviceName: 'llmo-run' }
 * otelPlan({}, 'run').sdk; // false
 * ```
 */
export function otelPlan(env: NodeJS.ProcessEnv, command: string): OtelPlan {
  const set = (name: string): boolean => (env[name] ?? '').trim() !== '';
  const disabled = (env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true';
  const named = set('OTEL_SERVICE_NAME') || /(?:^|,)\s*service\.name\s*=/.test(env['OTEL_RESOURCE_ATTRIBUTES'] ?? '');
  return { sdk: !disabled && OTEL_TRIGGERS.some(set), serviceName: named ? undefined : `llmo-${command}` };
}

/**
 * Options of {@link startCliTelemetry}.
 *
 * @example
 * ```ts
 * const options: CliTelemetryOptions = { command: 'run', env: process.env, report: (level, m) => process.stderr.write(`llmo: telemetry ${level}: ${m}\n`) };
 * ```
 */
export interface CliTelemetryOptions {
  /** The CLI command (`run`, `worker`, ...): the default service name is `llmo-<command>`. */
  readonly command: string;
  /** Where the trigger variables are read (the SDK itself reads `process.env`). */
  readonly env: NodeJS.ProcessEnv;
  /** Where the SDK's problems go: each distinct error or warning once. */
  readonly report: (level: OtelReportLevel, message: string) => void;
  /** Make a Prometheus reader whose scrape handler is `metricsHandler` (the worker's `/metrics`). */
  readonly prometheus?: boolean;
  /**
   * Record the process's resource use too (CPU, memory, network, event loop, heap and GC; see
   * otel-resources.ts) wherever metrics go (the OTLP or console exporter, the Prometheus scrape):
   * the long-lived commands (`worker`, `serve`, `evaluate`) ask for it.
   */
  readonly resourceMetrics?: boolean;
  /** SLO rules: alerts come out of `telemetry.alerts$`. */
  readonly alerts?: readonly SloRule[];
  /**
   * The command has no stop path of its own: on SIGINT/SIGTERM flush the SDK, then exit with
   * 128 + the signal number. Commands that stop gracefully on signals flush in their own `shutdown()`.
   */
  readonly exitOnSignal?: boolean;
}

/**
 * The CLI's telemetry.
 *
 * @example
 * ```ts
 * const otel = await startCliTelemetry({ command: 'run', env: process.env, report });
 * const sub = otel.telemetry.attach(engine);
 * try { await engine.run(t, input); } finally { sub.unsubscribe(); await otel.shutdown(); }
 * ```
 */
export interface CliTelemetry {
  /** Traces, metrics and alerts from an engine's events (no-ops where nothing is set up). */
  readonly telemetry: Telemetry;
  /** Whether the SDK was started (something exports). */
  readonly exporting: boolean;
  /** Answers a Prometheus scrape (with `prometheus: true`). */
  readonly metricsHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** Alerts of the SLO rules (the same as `telemetry.alerts$`). */
  readonly alerts$: Telemetry['alerts$'];
  /** Flushes and stops the SDK or meter provider; a failing export is reported, never thrown. Idempotent. */
  shutdown(): Promise<void>;
}

const DIAG_LEVELS: Readonly<Record<string, DiagLogLevel>> = {
  NONE: DiagLogLevel.NONE, ERROR: DiagLogLevel.ERROR, WARN: DiagLogLevel.WARN, INFO: DiagLogLevel.INFO,
  DEBUG: DiagLogLevel.DEBUG, VERBOSE: DiagLogLevel.VERBOSE, ALL: DiagLogLevel.ALL,
};

/**
 * Starts the CLI's telemetry as the environment says (see the module). Loads the SDK only when
 * it is asked for, the Prometheus exporter only with `prometheus: true`.
 *
 * @example
 * ```ts
 * const otel = await startCliTelemetry({ command: 'worker', env: process.env, report, prometheus: true });
 * await startHealthServer({ port: 8081, health, ready, metrics: otel.metricsHandler });
 * ```
 */
export async function startCliTelemetry(options: CliTelemetryOptions): Promise<CliTelemetry> {
  const plan = otelPlan(options.env, options.command);
  const log = onceDiagLogger(options.report);
  let meter: Meter | undefined;
  let stop: () => Promise<void> = async () => undefined;
  let metricsHandler: CliTelemetry['metricsHandler'];
  let prometheus: import('@opentelemetry/exporter-prometheus').PrometheusExporter | undefined;
  if (options.prometheus === true) {
    const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
    const reader = new PrometheusExporter({ preventServerStart: true });
    prometheus = reader;
    metricsHandler = (req, res) => reader.getMetricsRequestHandler(req, res);
  }
  if (plan.sdk) {
    const { NodeSDK } = await import('@opentelemetry/sdk-node');
    const metricReaders = prometheus === undefined ? undefined : [prometheus, ...await metricReadersFromEnv(options.env, log)];
    const sdk = new NodeSDK({
      ...(plan.serviceName === undefined ? {} : { serviceName: plan.serviceName }),
      ...(metricReaders === undefined ? {} : { metricReaders }),
      // the CLI logs with pino to stderr; nothing is sent as OpenTelemetry logs
      logRecordProcessors: [],
      instrumentations: [],
    });
    // after the SDK's constructor, which installs a console logger when OTEL_LOG_LEVEL is set
    diag.setLogger(log, { logLevel: DIAG_LEVELS[(options.env['OTEL_LOG_LEVEL'] ?? '').trim().toUpperCase()] ?? DiagLogLevel.WARN, suppressOverrideMessage: true });
    sdk.start();
    const stopResources = options.resourceMetrics === true ? await startResourceMetrics(metrics.getMeterProvider()) : undefined;
    stop = async () => {
      try {
        await sdk.shutdown(); // its last export still reads the resource metrics
      } finally {
        stopResources?.();
        // the SDK leaves its providers registered: a later in-process command (a test, an embedding) starts clean
        trace.disable();
        metrics.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      }
    };
  } else if (prometheus !== undefined) {
    const [{ MeterProvider }, { resourceFromAttributes, defaultResource }, { ATTR_SERVICE_NAME }] = await Promise.all([
      import('@opentelemetry/sdk-metrics'), import('@opentelemetry/resources'), import('@opentelemetry/semantic-conventions'),
    ]);
    const provider = new MeterProvider({
      readers: [prometheus],
      resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.env['OTEL_SERVICE_NAME'] ?? `llmo-${options.command}` })),
    });
    meter = provider.getMeter(INSTRUMENTATION_SCOPE);
    const registered = metrics.setGlobalMeterProvider(provider);
    const stopResources = options.resourceMetrics === true ? await startResourceMetrics(provider) : undefined;
    stop = async () => {
      if (registered && metrics.getMeterProvider() === provider) metrics.disable();
      await provider.shutdown().finally(stopResources);
    };
  }
  const telemetry = createTelemetry({
    ...(meter === undefined ? {} : { meter }),
    ...(options.alerts === undefined ? {} : { alerts: options.alerts }),
  });
  // a part of telemetry that throws is reported once per part and kind of failure (the engine goes on)
  telemetry.errors$.subscribe((e) => log.once('error', `${e.sink} failed on a ${e.eventType} event: ${argText(e.error)}`));
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    void shutdown().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
  };
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      try {
        await stop();
      } catch (e) {
        log.once('error', argText(e));
      }
    })();
    return stopping;
  };
  if (options.exitOnSignal === true && plan.sdk) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return { telemetry, exporting: plan.sdk, metricsHandler, alerts$: telemetry.alerts$, shutdown };
}

/**
 * The metric readers `OTEL_METRICS_EXPORTER` asks for (default `otlp`), made as the NodeSDK makes
 * them when it is given no readers; `prometheus` is left out (the worker's health server serves it).
 */
async function metricReadersFromEnv(env: NodeJS.ProcessEnv, log: ReturnType<typeof onceDiagLogger>): Promise<import('@opentelemetry/sdk-metrics').IMetricReader[]> {
  const wanted = [...new Set((env['OTEL_METRICS_EXPORTER'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (wanted.length === 0) wanted.push('otlp');
  if (wanted.includes('none')) return [];
  const readers: import('@opentelemetry/sdk-metrics').IMetricReader[] = [];
  for (const name of wanted) {
    if (name === 'otlp') {
      // the SDK's own helpers (not in its index): the OTLP exporter of OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL, OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT
      const utils = await import('@opentelemetry/sdk-node/build/src/utils.js');
      readers.push(utils.getPeriodicExportingMetricReaderFromEnv(utils.getOtlpMetricExporterFromEnv()));
    } else if (name === 'console') {
      const { ConsoleMetricExporter, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
      readers.push(new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter() }));
    } else if (name !== 'prometheus') {
      log.once('warn', `unsupported OTEL_METRICS_EXPORTER value "${name}" (supported: otlp, console, prometheus, none)`);
    }
  }
  return readers;
}
