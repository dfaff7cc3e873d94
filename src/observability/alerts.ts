/**
 * SLO alerts as data: rules (failure rate, p99 latency, cost rate over a sliding window) evaluated
 * over engine events, each time an event feeds a rule and on a periodic tick (so a quiet window
 * resolves), emitting an {@link AlertEvent} when a rule starts firing and when it resolves,
 * never while it keeps firing. Users route the events where they like; the CLI prints them with
 * `formatAlert` (alerts-format.ts).
 * @module
 */
import { Subject, type Observable } from 'rxjs';
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { EventSink } from './sink.ts';
import { SloRulesSchema, type SloRule } from './slo-rules.ts';
import { SlidingWindow } from './slo-window.ts';

export type { SloRule } from './slo-rules.ts';

/**
 * An alert raised (`firing`) or resolved by an SLO rule.
 *
 * @example
 * ```ts
 * alerts$.subscribe((a: AlertEvent) => { if (a.state === 'firing') page(a.rule, a.value); });
 * ```
 */
export interface AlertEvent {
  readonly type: 'alert';
  /** The rule's name. */
  readonly rule: string;
  readonly kind: SloRule['kind'];
  readonly state: 'firing' | 'resolved';
  /** The rule's value when it changed state: a share (failure rate), ms (p99 latency) or USD per minute (cost rate). */
  readonly value: number;
  readonly threshold: number;
  /** When the state changed, epoch ms. */
  readonly ts: number;
  /** Firing: when the condition began to hold. Resolved: when the alert fired. */
  readonly since: number;
  /** Samples in the window (runs, model calls, or paid model calls for a cost rate). */
  readonly samples: number;
  readonly windowMs: number;
  /** What the rule measures: `run` or `model-call` (cost rates: model calls). */
  readonly scope: 'run' | 'model-call';
  readonly topology?: string;
  readonly model?: string;
  readonly tenant?: string;
  readonly description?: string;
}

/**
 * Options of {@link createAlerts}.
 *
 * @example
 * ```ts
 * const options: AlertsOptions = { rules: parseSloRules(text), tickMs: 1_000 };
 * ```
 */
export interface AlertsOptions {
  readonly rules: readonly SloRule[];
  /** Clock of the windows, epoch ms (default `Date.now`; tests pass a virtual one). */
  readonly now?: () => number;
  /** Every rule is evaluated again this often, ms, so a quiet window resolves (default 5,000). The timer is unref'd. */
  readonly tickMs?: number;
}

/**
 * Schema of {@link AlertsOptions}.
 *
 * @example
 * ```ts
 * AlertsOptionsSchema.parse({ rules: [], tickMs: 1_000 });
 * ```
 */
export const AlertsOptionsSchema = z.strictObject({
  rules: SloRulesSchema,
  now: z.custom<() => number>((v) => typeof v === 'function', 'expected a function returning epoch ms').optional(),
  tickMs: z.number().int().positive().optional(),
});

/**
 * The alerts sink.
 *
 * @example
 * ```ts
 * const alerts: Alerts = createAlerts({ rules });
 * alerts.alerts$.subscribe((a) => console.error(formatAlert(a)));
 * ```
 */
export interface Alerts extends EventSink {
  /** Transitions of every rule, in order. Completes on `close()`. */
  readonly alerts$: Observable<AlertEvent>;
  /** Evaluates every rule now (what the tick does). */
  evaluate(): void;
  /** Stops the tick and completes `alerts$`. */
  close(): void;
}

const OK = 0;
const PENDING = 1;
const FIRING = 2;

/** A rule being evaluated. */
interface Live {
  readonly rule: SloRule;
  readonly window: SlidingWindow;
  readonly minSamples: number;
  readonly forMs: number;
  readonly scope: 'run' | 'model-call';
  phase: number;
  since: number;
  firedAt: number;
}

const matches = (r: SloRule, topology: string, model?: string, tenant?: string): boolean =>
  (r.topology === undefined || r.topology === topology) && (r.model === undefined || r.model === model) && (r.tenant === undefined || r.tenant === tenant);

/**
 * Evaluates SLO rules over engine events. Throws a ValidationError (`SLO_RULE_INVALID`) naming a
 * bad rule's field (`rules.1.threshold`).
 *
 * - `failure-rate`: failed / (completed + failed) top-level runs (scope `run`), or failed / all
 *   model calls (scope `model-call`; cancelled calls left out), once the window holds `minSamples`.
 * - `p99-latency`: 99th percentile of run durations (start to end, cancelled runs left out) or of
 *   model-call durations, in ms, once the window holds `minSamples`.
 * - `cost-rate`: model-call spend over the window, USD per minute.
 *
 * A rule fires when its value exceeds the threshold for `forMs` (checked on its events and on
 * each tick), and resolves when it no longer does (a window emptied by time resolves it).
 *
 * @example
 * ```ts
 * const alerts = createAlerts({ rules: [{ name: 'failures', kind: 'failure-rate', threshold: 0.05, windowMs: 60_000, minSamples: 20 }] });
 * engine.events$.subscribe((e) => alerts.observe(e));
 * alerts.alerts$.subscribe((a) => console.error(formatAlert(a)));
 * ```
 */
export function createAlerts(options: AlertsOptions): Alerts {
  const parsed = AlertsOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('SLO_RULE_INVALID', 'SLO alert options are invalid', toIssues(parsed.error.issues));
  const now = options.now ?? Date.now;
  const subject = new Subject<AlertEvent>();
  const live: Live[] = options.rules.map((rule) => ({
    rule,
    window: new SlidingWindow(rule.windowMs, rule.kind === 'p99-latency'),
    minSamples: rule.kind === 'cost-rate' ? 0 : rule.minSamples ?? 10,
    forMs: rule.forMs ?? 0,
    scope: rule.kind === 'cost-rate' ? 'model-call' : rule.scope ?? 'run',
    phase: OK, since: 0, firedAt: 0,
  }));
  const runOutcome = live.filter((l) => l.rule.kind === 'failure-rate' && l.scope === 'run');
  const runLatency = live.filter((l) => l.rule.kind === 'p99-latency' && l.scope === 'run');
  const callOutcome = live.filter((l) => l.rule.kind === 'failure-rate' && l.scope === 'model-call');
  const callLatency = live.filter((l) => l.rule.kind === 'p99-latency' && l.scope === 'model-call');
  const spend = live.filter((l) => l.rule.kind === 'cost-rate');
  /** Start times of top-level runs in flight (kept only for run latency rules). */
  const starts = new Map<string, number>();
  let closed = false;

  const valueOf = (l: Live): number => {
    const w = l.window;
    switch (l.rule.kind) {
      case 'failure-rate': return w.count === 0 ? 0 : w.sum / w.count;
      case 'p99-latency': return w.quantile(0.99);
      case 'cost-rate': return w.sum / (w.windowMs / 60_000);
    }
  };

  const emit = (l: Live, state: 'firing' | 'resolved', value: number, ts: number, since: number): void => {
    const r = l.rule;
    const a: { -readonly [K in keyof AlertEvent]: AlertEvent[K] } = {
      type: 'alert', rule: r.name, kind: r.kind, state, value, threshold: r.threshold, ts, since, samples: l.window.count, windowMs: r.windowMs, scope: l.scope,
    };
    if (r.topology !== undefined) a.topology = r.topology;
    if (r.model !== undefined) a.model = r.model;
    if (r.tenant !== undefined) a.tenant = r.tenant;
    if (r.description !== undefined) a.description = r.description;
    subject.next(a);
  };

  const evaluateOne = (l: Live, t: number): void => {
    l.window.expire(t);
    const value = valueOf(l);
    const holds = l.window.count >= l.minSamples && value > l.rule.threshold;
    if (holds) {
      if (l.phase === OK) {
        l.phase = PENDING;
        l.since = t;
      }
      if (l.phase === PENDING && t - l.since >= l.forMs) {
        l.phase = FIRING;
        l.firedAt = t;
        emit(l, 'firing', value, t, l.since);
      }
    } else if (l.phase === FIRING) {
      l.phase = OK;
      emit(l, 'resolved', value, t, l.firedAt);
    } else {
      l.phase = OK;
    }
  };

  const feed = (rules: readonly Live[], ts: number, value: number, topology: string, model?: string, tenant?: string): void => {
    let t: number | undefined;
    for (const l of rules) {
      if (!matches(l.rule, topology, model, tenant)) continue;
      l.window.add(ts, value);
      evaluateOne(l, (t ??= now()));
    }
  };

  const evaluate = (): void => {
    if (closed) return;
    const t = now();
    for (const l of live) evaluateOne(l, t);
  };

  const timer = live.length === 0 ? undefined : setInterval(evaluate, options.tickMs ?? 5_000);
  timer?.unref?.();

  const observe = (e: EngineEvent): void => {
    if (closed) return;
    switch (e.type) {
      case 'run.started':
        if (e.parentRunId === undefined && runLatency.length > 0) {
          if (starts.size >= 100_000) starts.delete(starts.keys().next().value!);
          starts.set(e.runId, e.ts);
        }
        break;
      case 'run.completed':
      case 'run.failed': {
        if (e.parentRunId !== undefined) break;
        feed(runOutcome, e.ts, e.type === 'run.failed' ? 1 : 0, e.topology);
        const start = starts.get(e.runId);
        if (start !== undefined) {
          starts.delete(e.runId);
          feed(runLatency, e.ts, e.ts - start, e.topology);
        }
        break;
      }
      case 'run.cancelled':
        starts.delete(e.runId);
        break;
      case 'model.call': {
        if (e.costUsd > 0) feed(spend, e.ts, e.costUsd, e.topology, e.model, e.tenant);
        if (e.error?.code === 'CANCELLED') break;
        feed(callOutcome, e.ts, e.error === undefined ? 0 : 1, e.topology, e.model, e.tenant);
        feed(callLatency, e.ts, e.ts - e.startTs, e.topology, e.model, e.tenant);
        break;
      }
      default:
        break;
    }
  };

  return {
    name: 'alerts',
    alerts$: subject.asObservable(),
    observe,
    evaluate,
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      starts.clear();
      subject.complete();
    },
  };
}
