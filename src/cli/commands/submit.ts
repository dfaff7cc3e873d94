/**
 * `llmo submit <topologyName>`: sends run requests to a worker group over Kafka
 * and prints each result as one JSON line. It says what it waits for, gives up
 * after `--timeout` (exit 1, naming how many results are missing), and reports a
 * broker it cannot reach in one line (exit 69; refused credentials 77). Its Kafka
 * settings are resolved exactly as the worker's (flags, `--kafka-config`,
 * `KAFKA_*`), so both create the topics alike.
 *
 * Each request is a `submit <topology>` producer span (exported when the `OTEL_*` variables set up
 * an SDK; a child of `TRACEPARENT` when that is set) whose W3C context travels with the request, so
 * the workers' run spans continue its trace.
 * @module
 */
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import {
  ATTR_MESSAGING_DESTINATION_NAME, ATTR_MESSAGING_OPERATION_TYPE, ATTR_MESSAGING_SYSTEM, MESSAGING_OPERATION_TYPE_VALUE_SEND, MESSAGING_SYSTEM_VALUE_KAFKA,
} from '@opentelemetry/semantic-conventions/incubating';
import { INSTRUMENTATION_SCOPE } from '../../observability/telemetry.ts';
import { contextOfTrace, traceContextOfSpan } from '../../observability/w3c.ts';
import { traceContextOf } from '../../runtime/trace-context.ts';
import { createClient, type SubmitOptions } from '../../worker/client.ts';
import type { RunResultMessage } from '../../transports/messages.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import { readInput } from '../input.ts';
import { connectKafka } from '../connect.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { kafkaProblem, openKafka, type OpenedKafka } from '../kafka.ts';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';
import { startCliTelemetry } from '../otel.ts';
import { lineReport } from '../otel-report.ts';

/**
 * Options of `llmo submit`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: SubmitCommandOptions = { brokers: '127.0.0.1:9092', count: 1, timeout: 60_000 };
 * ```
 */
export interface SubmitCommandOptions extends KafkaFlags {
  readonly input?: string | undefined;
  readonly count: number;
  /** Give up waiting for results after this many ms. */
  readonly timeout: number;
  readonly priority?: 'high' | 'normal' | 'low' | undefined;
  /** Each run's `deadlineMs` (counted from when a worker starts it). */
  readonly deadline?: number | undefined;
  readonly tenant?: string | undefined;
  readonly user?: string | undefined;
}

const line = (r: RunResultMessage): string => {
  let output: unknown = r.output;
  try {
    output = r.output === null ? null : JSON.parse(r.output) as unknown;
  } catch {
    // not JSON: print as sent
  }
  return `${JSON.stringify({ ...r, output, outputs: undefined })}\n`;
};

/**
 * Submits `count` runs of `name`; resolves with the exit code. `open` makes the transport
 * (default: Kafka; tests pass an in-memory one).
 *
 * @example
 * ```ts
 * const code = await submitCommand('rag', { brokers: '127.0.0.1:9092', input: '{"question":"why?"}', count: 1, timeout: 60_000 }, io);
 * ```
 */
export async function submitCommand(name: string, opts: SubmitCommandOptions, io: Io, open: (options: KafkaTransportOptions) => OpenedKafka = openKafka): Promise<number> {
  const input = await readInput(opts.input);
  if (!input.ok) return fail(io, input.message);
  const c = await connectKafka(opts, io, 'llmo-submit', open);
  if (!c.ok) return c.code;
  const { transport, where } = c;

  const env = io.env ?? process.env;
  const otel = await startCliTelemetry({ command: 'submit', env, report: lineReport(io.err), exitOnSignal: true });
  const tracer = trace.getTracer(INSTRUMENTATION_SCOPE);
  const given = traceContextOf({ traceparent: env['TRACEPARENT'], tracestate: env['TRACESTATE'] });
  const parent = (given === undefined ? undefined : contextOfTrace(given)) ?? context.active();
  const spans = new Set<Span>();
  /** Ends a span still open (a timed-out one is ended once, by the timeout). */
  const finish = (span: Span, error?: string, attributes?: Record<string, string>): void => {
    if (!spans.delete(span)) return;
    if (attributes !== undefined) span.setAttributes(attributes);
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
  };
  const submitOne = async (): Promise<RunResultMessage> => {
    const span = tracer.startSpan(`submit ${name}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA, [ATTR_MESSAGING_DESTINATION_NAME]: transport.topics.request,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND, 'llmo.topology': name,
      },
    }, parent);
    spans.add(span);
    const traceContext = traceContextOfSpan(span.spanContext());
    try {
      const r = await client.submit(name, input.value, { ...who, ...(traceContext === undefined ? {} : { traceContext }) });
      finish(span, r.status === 'completed' ? undefined : r.error ?? r.status, { 'llmo.run_id': r.runId, 'llmo.request_id': r.requestId, 'llmo.status': r.status });
      return r;
    } catch (e) {
      finish(span, (e as Error).message);
      throw e;
    }
  };
  const client = createClient(transport);
  const who: SubmitOptions = {
    ...(opts.priority === undefined ? {} : { priority: opts.priority }), ...(opts.deadline === undefined ? {} : { deadlineMs: opts.deadline }),
    ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }), ...(opts.user === undefined ? {} : { user: opts.user }),
  };
  io.err.write(`submitted ${opts.count} request(s) for '${name}' to ${transport.topics.request}; waiting for ${opts.count} result(s) from the worker group on topic ${transport.topics.result} (up to ${opts.timeout} ms) ...\n`);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), opts.timeout); });
  const arrived: RunResultMessage[] = [];
  const submits = Array.from({ length: opts.count }, () => submitOne().then((r) => { arrived.push(r); io.out.write(line(r)); return r; }));
  let code: number;
  try {
    const outcome = await Promise.race([Promise.all(submits), timedOut]);
    if (outcome === 'timeout') {
      for (const span of [...spans]) finish(span, `no result within ${opts.timeout} ms`);
      const missing = opts.count - arrived.length;
      code = fail(io, `timed out after ${opts.timeout} ms: ${missing} of ${opts.count} result(s) missing (is a worker serving '${name}' on ${transport.topics.request}? start one with: llmo worker <topology> --brokers ${where})`, EXIT.runFailed);
    } else {
      code = outcome.every((r) => r.status === 'completed') ? EXIT.ok : EXIT.runFailed;
    }
  } catch (e) {
    const p = kafkaProblem(where, e);
    code = fail(io, p.message, p.code);
  } finally {
    clearTimeout(timer);
    await client.close();
    await transport.close().catch(() => undefined);
    await otel.shutdown();
  }
  return code;
}
