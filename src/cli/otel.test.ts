/**
 * Which `OTEL_*` variables start what. The in-process tests read the plan; the others spawn the CLI
 * from source (tsx, the `llmo-source` condition) with a chosen environment and no network: the
 * console exporter, or an OTLP endpoint on a closed local port.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { closedPort } from '../../test/support/helpers.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otelPlan } from './otel.ts';
import { coreMessage, onceDiagLogger } from './otel-report.ts';

describe('otelPlan', () => {
  it('any trigger variable starts the SDK; nothing else does', () => {
    expect(otelPlan({}, 'run').sdk).toBe(false);
    expect(otelPlan({ OTEL_SERVICE_NAME: 'x', OTEL_RESOURCE_ATTRIBUTES: 'a=b', OTEL_TRACES_SAMPLER: 'always_on' }, 'run').sdk).toBe(false);
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER']) {
      expect(otelPlan({ [name]: 'http://127.0.0.1:4318' }, 'run').sdk, name).toBe(true);
      expect(otelPlan({ [name]: '  ' }, 'run').sdk, `${name} blank`).toBe(false);
    }
  });

  it('OTEL_SDK_DISABLED=true wins', () => {
    expect(otelPlan({ OTEL_TRACES_EXPORTER: 'console', OTEL_SDK_DISABLED: 'true' }, 'run').sdk).toBe(false);
    expect(otelPlan({ OTEL_TRACES_EXPORTER: 'console', OTEL_SDK_DISABLED: 'TRUE' }, 'run').sdk).toBe(false);
    expect(otelPlan({ OTEL_TRACES_EXPORTER: 'console', OTEL_SDK_DISABLED: 'false' }, 'run').sdk).toBe(true);
  });

  it('service name: llmo-<command> unless OTEL_SERVICE_NAME or a service.name resource attribute names it', () => {
    expect(otelPlan({}, 'worker').serviceName).toBe('llmo-worker');
    expect(otelPlan({ OTEL_SERVICE_NAME: 'rag-api' }, 'worker').serviceName).toBeUndefined();
    expect(otelPlan({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod, service.name=rag' }, 'run').serviceName).toBeUndefined();
    expect(otelPlan({ OTEL_RESOURCE_ATTRIBUTES: 'my.service.name=x' }, 'run').serviceName).toBe('llmo-run');
  });
});

describe('the diag logger', () => {
  it('reports each distinct error once, with the message of a stringified exception', () => {
    const lines: string[] = [];
    const log = onceDiagLogger((level, m) => lines.push(`${level}: ${m}`));
    const refused = JSON.stringify({ stack: 'Error: connect ECONNREFUSED 127.0.0.1:9\n    at x', message: 'connect ECONNREFUSED 127.0.0.1:9', code: 'ECONNREFUSED' });
    log.error(refused);
    log.error(refused);
    log.once('error', 'connect ECONNREFUSED 127.0.0.1:9');
    log.error('PeriodicExportingMetricReader: metrics export failed (error Error: connect ECONNREFUSED 127.0.0.1:9)');
    log.warn('unsupported exporter', 'zipkin2');
    log.warn('unsupported exporter', 'zipkin2');
    log.debug('exporting', { spans: 2 });
    expect(lines).toEqual(['error: connect ECONNREFUSED 127.0.0.1:9', 'warn: unsupported exporter zipkin2', 'debug: exporting {"spans":2}']);
    expect(coreMessage('not json {')).toBe('not json {');
  });
});


/** The environment without anything that configures telemetry, logs or real models. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTEL_|TRACEPARENT|TRACESTATE|LOG_LEVEL|OPENAI_|ANTHROPIC_|LLMO_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

const ENTRY = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";

/** Runs the CLI from source; with `trace`, every module URL the process resolves is written there. */
function llmoSource(args: readonly string[], env: Record<string, string>, trace?: string): Promise<{ code: number; out: string; err: string }> {
  const pre = trace === undefined ? [] : ['--import', './test/fixtures/trace-imports.mjs'];
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=llmo-source', ...pre, '--import', 'tsx', '--input-type=module', '-e', ENTRY, '--', ...args],
      { env: cleanEnv({ ...env, LLMO_TRACE_FILE: trace ?? '' }), maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, out, err });
      });
  });
}

const RUN = ['run', 'topologies/rag.ts', '--input', '{"question":"why?"}', '--json'];
const SDK = ['/@opentelemetry/sdk-', '/@opentelemetry/exporter-', '/@opentelemetry/resources/', '/@opentelemetry/core/'];

describe('llmo run and the OTEL_* variables (child processes, no network)', { timeout: 90_000 }, () => {
  let tmp: string;
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'llmo-otel-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a plain run loads no OpenTelemetry SDK or exporter', async () => {
    const trace = join(tmp, 'plain.trace');
    const r = await llmoSource(RUN, {}, trace);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const loaded = readFileSync(trace, 'utf8');
    expect(loaded).toContain('/src/cli/otel.ts');
    expect(SDK.filter((m) => loaded.includes(m))).toEqual([]);
  });

  it('OTEL_SDK_DISABLED=true: no SDK even with OTEL_TRACES_EXPORTER set', async () => {
    const trace = join(tmp, 'disabled.trace');
    const r = await llmoSource(RUN, { OTEL_TRACES_EXPORTER: 'console', OTEL_SDK_DISABLED: 'true' }, trace);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('traceId');
    expect(SDK.filter((m) => readFileSync(trace, 'utf8').includes(m))).toEqual([]);
  });

  it('OTEL_TRACES_EXPORTER=console: the run, node and chat spans are exported before exit, as llmo-run, under TRACEPARENT', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const trace = join(tmp, 'console.trace');
    const r = await llmoSource(RUN, { OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'none', TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01` }, trace);
    expect(readFileSync(trace, 'utf8')).toContain('/@opentelemetry/sdk-node/'); // the check of the plain run sees the SDK when it loads
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain("name: 'invoke_workflow rag'");
    expect(r.out).toContain("name: 'node retrieve'");
    expect(r.out).toMatch(/name: 'chat /);
    expect(r.out).toContain("'service.name': 'llmo-run'");
    const ids = [...r.out.matchAll(/^ {2}traceId: '([0-9a-f]{32})'/gm)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(2);
    expect(new Set(ids)).toEqual(new Set([traceId]));
  });

  it('OTEL_SERVICE_NAME names the service', async () => {
    const r = await llmoSource(RUN, { OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'none', OTEL_SERVICE_NAME: 'rag-batch' });
    expect(r.code).toBe(0);
    expect(r.out).toContain("'service.name': 'rag-batch'");
  });

  it('an OTLP endpoint nobody listens on: the run completes, one error line on stderr, no stack trace', async () => {
    const port = await closedPort();
    const r = await llmoSource(RUN, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_TIMEOUT: '2000' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ status: 'completed' });
    // traces and metrics fail on the same endpoint: one line (which exporter reports first varies)
    expect(r.err).toMatch(new RegExp(`^llmo: telemetry error: [^\\n]*ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)?\\n$`));
  });
});
