/**
 * In-process evaluators: a function, or an evaluation topology (e.g. an LLM-as-judge on
 * the simulated model), that answers a loop's evaluation requests with feedback messages
 * fed back into the same loop. What an evaluator throws or fails is counted on its
 * handle, never thrown into the loop.
 * @module
 */
import { EMPTY, from, mergeMap, of, type Observable, type Subscription } from 'rxjs';
import * as z from 'zod';
import type { AnyTopology } from '../definition/types.ts';
import { ValidationError, toIssues } from '../errors.ts';
import type { Engine } from '../runtime/engine.ts';
import type { EvaluationRequestMessage, FeedbackMessage } from '../transports/messages.ts';
import type { FeedbackLoop, FeedbackOutcome } from './types.ts';

/**
 * One judgement an evaluator returns for a request.
 *
 * @example
 * ```ts
 * const j: Judgement = { metric: 'correct', score: 1, label: 'pass' };
 * ```
 */
export interface Judgement {
  readonly metric: string;
  readonly score: number;
  readonly label?: string | null | undefined;
  readonly comment?: string | null | undefined;
}

/**
 * An evaluation function: one judgement, several, or none (`undefined`: not judged), sync or async.
 *
 * @example
 * ```ts
 * const fn: EvaluateFn = (req) => ({ metric: 'long', score: req.outputTokens > 40 ? 1 : 0 });
 * ```
 */
export type EvaluateFn = (request: EvaluationRequestMessage) =>
  Judgement | readonly Judgement[] | undefined | Promise<Judgement | readonly Judgement[] | undefined>;

/**
 * Counts of an attached evaluator.
 *
 * @example
 * ```ts
 * const s: EvaluatorStats = handle.stats(); // { requests: 10, judged: 9, feedback: 9, errors: 1, ... }
 * ```
 */
export interface EvaluatorStats {
  /** Evaluation requests taken. */
  readonly requests: number;
  /** Requests answered with at least one judgement. */
  readonly judged: number;
  /** Feedback messages given to the loop. */
  readonly feedback: number;
  /** What the loop made of them, by outcome. */
  readonly outcomes: Readonly<Record<FeedbackOutcome, number>>;
  /** Requests whose evaluation threw, rejected, failed (a judge run) or answered something that is no judgement. */
  readonly errors: number;
  /** Requests skipped (the judge's own runs). */
  readonly skipped: number;
  /** The last error's message, or null. */
  readonly lastError: string | null;
  /** Evaluations under way. */
  readonly inFlight: number;
}

/**
 * An attached evaluator.
 *
 * @example
 * ```ts
 * const h = attachEvaluator(loop, judge);
 * console.log(h.stats().feedback);
 * h.stop();
 * ```
 */
export interface EvaluatorHandle {
  stats(): EvaluatorStats;
  /** Stops taking requests (evaluations under way are dropped). */
  stop(): void;
}

const EvaluatorOptionsSchema = z.strictObject({
  source: z.string().min(1).optional(),
  concurrency: z.number().int().positive().optional(),
  now: z.custom<() => number>((v) => typeof v === 'function', 'expected a clock function').optional(),
});

/**
 * Options of {@link attachEvaluator}.
 *
 * @example
 * ```ts
 * attachEvaluator(loop, fn, { source: 'heuristics', concurrency: 16 });
 * ```
 */
export interface EvaluatorOptions {
  /** `source` of the feedback messages. Default `evaluator`. */
  readonly source?: string | undefined;
  /** Async evaluations under way at once. Default 8. */
  readonly concurrency?: number | undefined;
  /** Clock of feedback `ts`. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

const JudgementSchema = z.object({
  metric: z.string().min(1),
  score: z.number().finite(),
  label: z.string().nullable().optional(),
  comment: z.string().nullable().optional(),
});
const JudgementsSchema = z.union([JudgementSchema, z.array(JudgementSchema)]).optional();

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function emptyOutcomes(): Record<FeedbackOutcome, number> {
  return { joined: 0, late: 0, duplicate: 0, unknown_run: 0, invalid: 0 };
}

function parseOptions(options: unknown, what: string): EvaluatorOptions {
  const r = EvaluatorOptionsSchema.safeParse(options ?? {});
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', `${what} options are invalid`, toIssues(r.error.issues, ['options']));
  return r.data;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** The machinery both evaluators share: take requests, judge with bounded concurrency, feed back, count. */
function attach(
  loop: FeedbackLoop,
  judge: (req: EvaluationRequestMessage) => unknown,
  options: EvaluatorOptions,
  skip: (req: EvaluationRequestMessage) => boolean,
  defaultSource: string,
): EvaluatorHandle {
  const source = options.source ?? defaultSource;
  const now = options.now ?? Date.now;
  const stats: Mutable<EvaluatorStats> & { outcomes: Record<FeedbackOutcome, number> } = {
    requests: 0, judged: 0, feedback: 0, outcomes: emptyOutcomes(), errors: 0, skipped: 0, lastError: null, inFlight: 0,
  };
  const fail = (e: unknown): void => {
    stats.errors++;
    stats.lastError = e instanceof Error ? e.message : String(e);
  };
  const deliver = (req: EvaluationRequestMessage, answer: unknown): void => {
    const parsed = JudgementsSchema.safeParse(answer);
    if (!parsed.success) {
      fail(new ValidationError('JUDGEMENT_INVALID', `the evaluation of '${req.evaluationId}' is no judgement`, toIssues(parsed.error.issues, ['judgement'])));
      return;
    }
    const list = parsed.data === undefined ? [] : Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    if (list.length > 0) stats.judged++;
    for (const j of list) {
      const msg: FeedbackMessage = {
        feedbackId: `${req.evaluationId}:${source}:${j.metric}`,
        topology: req.topology,
        runId: req.runId,
        nodeId: req.nodeId,
        model: req.nodeId === null ? null : req.models[req.nodeId] ?? null,
        metric: j.metric,
        score: j.score,
        source,
        ts: now(),
        comment: j.comment ?? null,
        label: j.label ?? null,
      };
      stats.feedback++;
      stats.outcomes[loop.feedback(msg)]++;
    }
  };
  const sub: Subscription = loop.evaluations$.pipe(
    mergeMap((req): Observable<void> => {
      if (skip(req)) {
        stats.skipped++;
        return EMPTY;
      }
      stats.requests++;
      let answer: unknown;
      try {
        answer = judge(req);
      } catch (e) {
        fail(e);
        return EMPTY;
      }
      if (!isPromiseLike(answer)) {
        deliver(req, answer);
        return of(undefined);
      }
      stats.inFlight++;
      return from(Promise.resolve(answer).then(
        (a) => { stats.inFlight--; deliver(req, a); },
        (e: unknown) => { stats.inFlight--; fail(e); },
      ));
    }, options.concurrency ?? 8),
  ).subscribe({ error: fail });
  return {
    stats: () => ({ ...stats, outcomes: { ...stats.outcomes } }),
    stop: () => sub.unsubscribe(),
  };
}

/**
 * Answers a loop's evaluation requests with a function: each judgement becomes a feedback
 * message (`feedbackId` `<evaluationId>:<source>:<metric>`, so a request judged again is a
 * duplicate) given to `loop.feedback`. A sync function judges at once (as the run ends);
 * async ones run at most `concurrency` at a time. Throws only on bad options.
 *
 * @example
 * ```ts
 * const h = attachEvaluator(loop, (req) => ({ metric: 'short', score: req.outputTokens < 50 ? 1 : 0 }));
 * await engine.run(qa, { q: 'hi' });
 * h.stats().feedback; // 1
 * ```
 */
export function attachEvaluator(loop: FeedbackLoop, evaluate: EvaluateFn, options?: EvaluatorOptions): EvaluatorHandle {
  const o = parseOptions(options, 'attachEvaluator');
  if (typeof evaluate !== 'function') {
    throw new ValidationError('OPTIONS_INVALID', 'attachEvaluator arguments are invalid', [{ code: 'invalid_type', path: ['evaluate'], message: 'expected a function' }]);
  }
  return attach(loop, evaluate, o, () => false, 'evaluator');
}

/**
 * Options of {@link attachJudge}.
 *
 * @example
 * ```ts
 * const o: JudgeOptions = { metric: 'helpful', score: (out) => (String(out).includes('yes') ? 1 : 0) };
 * ```
 */
export interface JudgeOptions extends EvaluatorOptions {
  /** The metric the judge's verdict is a score of. */
  readonly metric: string;
  /** The score of a judge run's output (throwing or a non-finite number counts as an error). */
  readonly score: (output: unknown, request: EvaluationRequestMessage) => number;
  /** The judge run's input. Default `{ input, output }` (the request's, parsed from JSON). */
  readonly input?: (request: EvaluationRequestMessage) => unknown;
  /** A label beside the score. */
  readonly label?: (output: unknown, request: EvaluationRequestMessage) => string | null;
}

const JudgeOptionsSchema = EvaluatorOptionsSchema.extend({
  metric: z.string().min(1),
  score: z.custom<JudgeOptions['score']>((v) => typeof v === 'function', 'expected a function (output, request) => number'),
  input: z.custom<NonNullable<JudgeOptions['input']>>((v) => typeof v === 'function', 'expected a function (request) => input').optional(),
  label: z.custom<NonNullable<JudgeOptions['label']>>((v) => typeof v === 'function', 'expected a function (output, request) => label').optional(),
});

/**
 * Answers a loop's evaluation requests by running an evaluation topology (an LLM-as-judge)
 * on an engine, at most `concurrency` runs at a time, and feeding `score(output)` back as
 * feedback on `metric`. Requests about the judge's own runs are skipped (an engine whose
 * loop samples the judge topology would otherwise judge its judgements); a judge run that
 * fails counts as an error. Throws only on bad options.
 *
 * @example
 * ```ts
 * const judge = topology('judge', { input: z.object({ input: z.unknown(), output: z.unknown() }) })
 *   .llm('verdict', { model: 'sim:fast', prompt: ({ input }) => `Is this right? ${JSON.stringify(input)}` })
 *   .build({ output: 'verdict' });
 * const h = attachJudge(loop, engine, judge, { metric: 'judge', score: (out) => (String((out as { text: string }).text).length > 20 ? 1 : 0) });
 * ```
 */
export function attachJudge(loop: FeedbackLoop, engine: Pick<Engine, 'run'>, judge: AnyTopology, options: JudgeOptions): EvaluatorHandle {
  const r = JudgeOptionsSchema.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'attachJudge options are invalid', toIssues(r.error.issues, ['options']));
  const o = options;
  const inputOf = o.input ?? ((req: EvaluationRequestMessage) => ({ input: JSON.parse(req.input) as unknown, output: JSON.parse(req.output) as unknown }));
  const run = async (req: EvaluationRequestMessage): Promise<Judgement> => {
    const result = await engine.run(judge, inputOf(req));
    if (result.status !== 'completed') throw new Error(`judge run ${result.runId} ${result.status}: ${result.status === 'failed' ? result.error.message : ''}`);
    const score = o.score(result.output, req);
    if (!Number.isFinite(score)) throw new Error(`judge score of run ${result.runId} is not a finite number: ${String(score)}`);
    const label = o.label?.(result.output, req) ?? null;
    return { metric: o.metric, score, label };
  };
  return attach(loop, run, o, (req) => req.topology === judge.name, 'judge');
}
