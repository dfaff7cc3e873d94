/**
 * `llmo evaluate --judge <topology> --brokers B`: an evaluator worker. It consumes the
 * evaluation requests workers publish (topic `<prefix>.evaluations`, in the group
 * `<prefix>-evaluators.<judge name>` so evaluators share the work), runs the judge
 * topology on each (e.g. an LLM-as-judge), and publishes its verdict as a feedback
 * message (topic `<prefix>.feedback`, keyed by run id), which the workers' loops join
 * to the run. Runs until SIGINT/SIGTERM (or `--count` verdicts), then exits 0.
 *
 * The judge's input is the request with `input` and `output` parsed from JSON:
 * `{ evaluationId, runId, nodeId, topology, version, variant, policyVersion, promptVersion,
 * models, arms, input, output, status, latencyMs, inputTokens, outputTokens, costUsd, tenant, user }`.
 * Its output must be a score in [0, 1], or `{ score, label?, comment? }`. The feedback id is
 * `<evaluationId>:<metric>:<judge name>`, so a request judged twice (a redelivery) is one
 * judgement to the loop (`duplicate`). Only completed runs are judged; others are counted
 * as skipped. A judge output that is not a score, or a judge run that fails for good, sends
 * the request to the dead-letter topic with the reason (each counted and printed at the end).
 * @module
 */
import * as z from 'zod';
import { OrchestratorError, formatIssues, toIssues } from '../../errors.ts';
import type { AnyTopology } from '../../definition/types.ts';
import { createEngine, type Engine } from '../../runtime/engine.ts';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';
import type { EvaluationRequestMessage, FeedbackMessage } from '../../transports/messages.ts';
import { probeKafka } from '../connect.ts';
import { untilStopped } from '../down-watch.ts';
import { healthFlag } from '../health-server.ts';
import { createCliLogger, parseLogLevels } from '../logging.ts';
import { modelsFromEnv } from '../env.ts';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { openKafka, type OpenedKafka } from '../kafka.ts';
import { loadForCli } from '../load.ts';
import { startCliTelemetry } from '../otel.ts';
import { loadSlo, logAlerts } from '../slo.ts';

/**
 * Options of `llmo evaluate`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: EvaluateCommandOptions = { brokers: '127.0.0.1:9092', judge: 'judges/correct.ts', metric: 'correct', maxInFlight: 4 };
 * ```
 */
export interface EvaluateCommandOptions extends KafkaFlags {
  /** The judge topology file. */
  readonly judge: string;
  /** The feedback metric the judge's score is. Default `quality`. */
  readonly metric?: string | undefined;
  /** Consumer group. Default `<prefix>-evaluators.<judge name>`. */
  readonly group?: string | undefined;
  /** Judge runs at once. Default 4. */
  readonly maxInFlight?: number | undefined;
  /** Stop after this many verdicts published. Default: run until stopped. */
  readonly count?: number | undefined;
  readonly ops?: string | undefined;
  /** `--slo <file>`: SLO rules (YAML or JSON) over the judge runs; each alert is a JSON log line (component `alerts`) on stderr. */
  readonly slo?: string | undefined;
  /** `--health-port`: serve `/healthz`, `/readyz` and `/metrics` (Prometheus) on this port. */
  readonly healthPort?: number | undefined;
  /** Stop and exit 1 when the health stays down this long, ms; 0 or absent: never. */
  readonly exitOnDownMs?: number | undefined;
}

/**
 * What a judge topology may answer: a score in [0, 1], or a score with a label and a comment.
 *
 * @example
 * ```ts
 * JudgeOutputSchema.parse({ score: 0.8, label: 'pass' });
 * ```
 */
export const JudgeOutputSchema = z.union([
  z.number().min(0).max(1),
  z.object({ score: z.number().min(0).max(1), label: z.string().min(1).optional(), comment: z.string().optional() }),
], { error: 'expected a score in [0, 1] or { score, label?, comment? }' });

/**
 * A judge's verdict.
 *
 * @example
 * ```ts
 * const v: Verdict = { score: 1, label: 'pass', comment: null };
 * ```
 */
export interface Verdict {
  readonly score: number;
  readonly label: string | null;
  readonly comment: string | null;
}

/**
 * Reads a judge's output as a verdict, or says what is wrong with it (naming the field).
 *
 * @example
 * ```ts
 * verdictOf({ score: 0.9, label: 'pass' }); // { ok: true, verdict: { score: 0.9, label: 'pass', comment: null } }
 * verdictOf(7); // { ok: false, reason: '...' }
 * ```
 */
export function verdictOf(output: unknown): { ok: true; verdict: Verdict } | { ok: false; reason: string } {
  const r = JudgeOutputSchema.safeParse(output);
  if (!r.success) {
    // the object branch's issues name the field when the output is an object
    const object = typeof output === 'object' && output !== null ? JudgeOutputSchema.options[1].safeParse(output) : undefined;
    const issues = toIssues((object !== undefined && !object.success ? object.error : r.error).issues, ['output']);
    return { ok: false, reason: `the judge's output is not a verdict:\n${formatIssues(issues)}` };
  }
  const v = r.data;
  return { ok: true, verdict: typeof v === 'number' ? { score: v, label: null, comment: null } : { score: v.score, label: v.label ?? null, comment: v.comment ?? null } };
}

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text; // checked JSON on the way in; kept as text otherwise
  }
};

/**
 * Judges one evaluation request with `judge` on `engine`: the feedback message to publish, or
 * undefined for a run that did not complete (skipped). Throws a non-retriable OrchestratorError
 * (`JUDGE_OUTPUT_INVALID`, or `JUDGE_FAILED` when the judge run failed for a reason trying again
 * would not fix) so the consumer dead-letters the request; a retriable one for a passing failure.
 *
 * @example
 * ```ts
 * const fb = await judgeRequest(engine, judge, request, { metric: 'correct' });
 * if (fb !== undefined) await transport.send('feedback', [{ key: fb.runId!, value: fb }]);
 * ```
 */
export async function judgeRequest(engine: Engine, judge: AnyTopology, req: EvaluationRequestMessage, options: { readonly metric: string; readonly signal?: AbortSignal; readonly now?: () => number }): Promise<FeedbackMessage | undefined> {
  if (req.status !== 'completed') return undefined;
  const input = { ...req, input: parsed(req.input), output: parsed(req.output) };
  const r = await engine.run(judge, input, options.signal === undefined ? {} : { signal: options.signal });
  if (r.status !== 'completed') {
    const why = r.error?.message ?? r.status;
    throw new OrchestratorError('JUDGE_FAILED', `judge '${judge.name}' on ${req.evaluationId}: ${why}`, { retriable: r.error?.retriable ?? false, cause: r.error });
  }
  const v = verdictOf(r.output);
  if (!v.ok) throw new OrchestratorError('JUDGE_OUTPUT_INVALID', `judge '${judge.name}' on ${req.evaluationId}: ${v.reason}`, { retriable: false });
  const models = Object.values(req.models);
  const model = req.nodeId !== null ? req.models[req.nodeId] ?? null : models.length === 1 ? models[0]! : null;
  return {
    feedbackId: `${req.evaluationId}:${options.metric}:${judge.name}`, topology: req.topology, runId: req.runId, nodeId: req.nodeId, model,
    metric: options.metric, score: v.verdict.score, source: `llmo-evaluate:${judge.name}`, ts: (options.now ?? Date.now)(),
    comment: v.verdict.comment, label: v.verdict.label,
  };
}

/**
 * Serves evaluation requests until SIGINT/SIGTERM, `stop`, or `--count` verdicts; resolves with the exit code.
 * `open` makes the transport (default Kafka; tests pass an in-memory one).
 *
 * @example
 * ```ts
 * const code = await evaluateCommand({ brokers: '127.0.0.1:9092', judge: 'judges/correct.ts', metric: 'correct' }, io);
 * ```
 */
export async function evaluateCommand(opts: EvaluateCommandOptions, io: Io, stop?: AbortSignal, open?: (options: KafkaTransportOptions) => OpenedKafka): Promise<number> {
  const loaded = await loadForCli(opts.judge, opts.ops);
  if (!loaded.ok) return reportIssues(io, opts.judge, loaded.issues);
  const judge = loaded.topology;
  const metric = opts.metric ?? 'quality';
  if (metric.trim() === '') return fail(io, '--metric: must not be empty');
  const slo = await loadSlo(opts.slo);
  if (!slo.ok) return reportIssues(io, `--slo ${opts.slo}`, slo.issues);
  const env = io.env ?? process.env;
  const levels = parseLogLevels(env);
  if (!levels.ok) return reportIssues(io, 'the LOG_LEVEL and LOG_LEVELS variables', levels.issues);
  // a fail-fast probe creates (or checks) the topics; the evaluator's own transport keeps kafkajs's patient retries
  const probed = await probeKafka(opts, io, 'llmo-evaluate', open);
  if (!probed.ok) return probed.code;
  const { options: kafka, where } = probed;
  const prefix = kafka.prefix ?? 'llmo';
  // JSON lines on io.err (stderr, or a test's capture); stdout carries the feedback only
  const logger = createCliLogger({ levels: levels.value, env, destination: io.err, secrets: kafka.sasl === undefined ? [] : [kafka.sasl.password] });
  const otelLog = logger.child({ component: 'otel' });
  const otel = await startCliTelemetry({
    command: 'evaluate', env, report: (level, message) => otelLog[level](message), prometheus: opts.healthPort !== undefined, resourceMetrics: true,
    ...(slo.rules === undefined ? {} : { alerts: slo.rules }),
  });
  const alerts = logAlerts(otel.alerts$, logger);
  const engine = createEngine({ models: modelsFromEnv(env).models, logger, ...loaded.engineOptions });
  const observed = otel.telemetry.attach(engine);
  const closeOtel = async (): Promise<void> => {
    observed.unsubscribe();
    alerts.unsubscribe();
    await otel.shutdown();
  };
  const opened = (open ?? openKafka)({ ...kafka, logger });
  if (!opened.ok) {
    await engine.shutdown();
    await closeOtel();
    return reportIssues(io, 'the Kafka settings', opened.issues);
  }
  const transport = opened.transport;
  const group = opts.group ?? `${prefix}-evaluators.${judge.name}`;
  const counts = { judged: 0, skipped: 0, refused: 0 };
  let serving = false;
  const started = await healthFlag(opts.healthPort, { health: transport.health, ready: () => serving, metrics: otel.metricsHandler });
  if (!started.ok) {
    await transport.close().catch(() => undefined);
    await engine.shutdown();
    await closeOtel();
    return fail(io, started.message);
  }
  const health = started.server;
  let code: number = EXIT.ok;
  // a consumer that cannot be restarted leaves the health down: stop rather than sit idle
  const life = untilStopped({ health: transport.health, exitOnDownMs: opts.exitOnDownMs ?? 0, signal: stop, onDown: (r) => logger.error({ health: r }, 'evaluator down for good: stopping') });
  const events = transport.events$.subscribe((e) => {
    if (e.type === 'dead-lettered' && e.topic === transport.topics.evaluation) {
      counts.refused++;
      io.err.write(`llmo: evaluation request dead-lettered: ${e.reason}\n`);
    }
  });
  try {
    const consumption = await transport.consume('evaluation', { group, maxInFlight: opts.maxInFlight ?? 4 }, async (m, { signal }) => {
      const fb = await judgeRequest(engine, judge, m.value, { metric, signal });
      if (fb === undefined) {
        counts.skipped++;
        return;
      }
      await transport.send('feedback', [{ key: fb.runId!, value: fb }]);
      counts.judged++;
      io.out.write(`${JSON.stringify(fb)}\n`);
      if (opts.count !== undefined && counts.judged >= opts.count) life.stop();
    });
    serving = true;
    io.err.write(`evaluating ${transport.topics.evaluation} with judge '${judge.name}' (metric '${metric}', group '${group}') at ${where}; feedback to ${transport.topics.feedback}${health === undefined ? '' : `; health on :${health.port}`}; Ctrl-C to stop\n`);
    const down = await life.stopped;
    if (down !== undefined) code = fail(io, `${down}; stopping`, EXIT.runFailed);
    serving = false;
    await consumption.stop();
  } catch (e) {
    code = fail(io, `the evaluator failed: ${(e as Error).message}`, EXIT.unavailable);
  } finally {
    life.stop();
    events.unsubscribe();
    await health?.close();
    await engine.shutdown();
    await transport.close().catch(() => undefined);
    // after the engine: the last spans and metrics are in, then flushed
    await closeOtel();
  }
  io.err.write(`judged ${counts.judged}, skipped ${counts.skipped} (runs that did not complete), dead-lettered ${counts.refused}\n`);
  return code;
}
