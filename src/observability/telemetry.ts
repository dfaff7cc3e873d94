/**
 * Telemetry for an engine: traces (a span per run, node and model call, with the OpenTelemetry
 * GenAI conventions), metrics and SLO alerts, all made from the engine's events by one
 * subscription. Uses only `@opentelemetry/api`: without an SDK registered (or with `tracer` and
 * `meter` left out and none set globally) every span and instrument is a no-op; the application,
 * or the `llmo` CLI from the `OTEL_*` variables, picks the SDK and exporters.
 * @module
 */
import { createNoopMeter, metrics as otelMetrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { Subject, Subscription, type Observable } from 'rxjs';
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { TraceContext } from '../runtime/trace-context.ts';
import { createAlerts, type AlertEvent } from './alerts.ts';
import { SloRulesSchema, type SloRule } from './slo-rules.ts';
import { createMetrics } from './metrics.ts';
import { INSTRUMENTATION_SCOPE } from './metric-names.ts';
import type { EventSink } from './sink.ts';
import { createTracing, type CaptureOptions } from './tracing.ts';

export { INSTRUMENTATION_SCOPE } from './metric-names.ts';

/** The global tracer, or undefined while no SDK registered a tracer provider (spans would all be no-ops). */
function globalTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider() as { getDelegateTracer?: (name: string) => Tracer | undefined };
  // the API's global provider is a proxy: it has a delegate tracer only once an SDK registered one
  if (typeof provider.getDelegateTracer === 'function' && provider.getDelegateTracer(INSTRUMENTATION_SCOPE) === undefined) return undefined;
  return trace.getTracer(INSTRUMENTATION_SCOPE);
}

const NOOP_METER = createNoopMeter().constructor;

/** The global meter, or undefined while no SDK registered a meter provider (instruments would all be no-ops). */
function globalMeter(): Meter | undefined {
  const meter = otelMetrics.getMeter(INSTRUMENTATION_SCOPE);
  return meter.constructor === NOOP_METER ? undefined : meter;
}

const isTracer = (v: unknown): v is Tracer => typeof (v as Tracer | null)?.startSpan === 'function';
const isMeter = (v: unknown): v is Meter => typeof (v as Meter | null)?.createHistogram === 'function';

/**
 * Schema of {@link TelemetryOptions}.
 *
 * @example
 * ```ts
 * TelemetryOptionsSchema.parse({ metrics: false, capture: { content: true } });
 * ```
 */
export const TelemetryOptionsSchema = z.strictObject({
  tracer: z.custom<Tracer>(isTracer, 'expected an OpenTelemetry Tracer').optional(),
  meter: z.custom<Meter>(isMeter, 'expected an OpenTelemetry Meter').optional(),
  traces: z.boolean().optional(),
  metrics: z.boolean().optional(),
  capture: z.strictObject({
    content: z.boolean(),
    redact: z.custom<(text: string) => string>((v) => typeof v === 'function', 'expected a function (text) => text').optional(),
    maxChars: z.number().int().positive().optional(),
  }).optional(),
  alerts: SloRulesSchema.optional(),
  alertTickMs: z.number().int().positive().optional(),
  now: z.custom<() => number>((v) => typeof v === 'function', 'expected a function returning epoch ms').optional(),
});

/**
 * Options of {@link createTelemetry}.
 *
 * @example
 * ```ts
 * const options: TelemetryOptions = { tracer: provider.getTracer('app'), capture: { content: true } };
 * ```
 */
export interface TelemetryOptions {
  /**
   * Default: the global tracer provider's `llm-orchestrator` tracer, when an SDK registered one by the
   * time telemetry is created; without one, no spans are made at all (not even no-op ones).
   */
  readonly tracer?: Tracer;
  /** Default: the global meter provider's `llm-orchestrator` meter, when an SDK registered one; without one, no metrics. */
  readonly meter?: Meter;
  /** Make spans (default true). */
  readonly traces?: boolean;
  /** Record metrics (default true). */
  readonly metrics?: boolean;
  /** Prompt and completion capture on model-call spans: off unless `content: true`; redacted (PII and secrets) unless a `redact` is given. */
  readonly capture?: CaptureOptions;
  /** SLO rules evaluated over the events (see `SloRuleSchema`, `parseSloRules`); alerts come out of `alerts$`. */
  readonly alerts?: readonly SloRule[];
  /** How often every SLO rule is evaluated again, ms, so a quiet window resolves (default 5,000). */
  readonly alertTickMs?: number;
  /** Clock of the alert windows (tests pass a virtual one). */
  readonly now?: () => number;
}

/**
 * What telemetry attaches to: an engine's bus and, for the load gauges, its `load()` (an
 * `Engine` is one).
 *
 * @example
 * ```ts
 * const source: TelemetrySource = engine;
 * ```
 */
export interface TelemetrySource {
  readonly events$: Observable<EngineEvent>;
  /** Runs admitted and waiting for admission now (`Engine.load`); without it there are no load gauges. */
  load?(): { readonly running: number; readonly queued: number };
}

/**
 * Telemetry attached to engines.
 *
 * @example
 * ```ts
 * const telemetry = createTelemetry();
 * const sub = telemetry.attach(engine);
 * telemetry.alerts$.subscribe((a) => console.error(a));
 * ```
 */
export interface Telemetry {
  /** Feeds an engine's events to traces, metrics and alerts until the subscription ends (which ends open spans). */
  attach(engine: TelemetrySource): Subscription;
  /**
   * The W3C trace context of a run's span (or of one of its nodes' spans) open in this process, for
   * messages about it (node tasks, token batches, results): the receiver's spans become its children.
   */
  traceContext(runId: string, nodeId?: string): TraceContext | undefined;
  /** Alerts raised and resolved by the SLO rules. */
  readonly alerts$: Observable<AlertEvent>;
  /**
   * A part of telemetry (traces, metrics, alerts) threw on an event: the event still reached the
   * other parts and the engine is unaffected; each failure comes out here (the CLI prints them).
   */
  readonly errors$: Observable<TelemetryError>;
  /** Events a part of telemetry failed on, by part, since creation. */
  failures(): Readonly<Record<string, number>>;
}

/**
 * A part of telemetry failed on one event.
 *
 * @example
 * ```ts
 * telemetry.errors$.subscribe((e) => console.error(`telemetry ${e.sink} failed on ${e.eventType}: ${String(e.error)}`));
 * ```
 */
export interface TelemetryError {
  readonly sink: string;
  readonly eventType: string;
  readonly error: unknown;
}

/**
 * Creates telemetry. Throws a ValidationError naming a bad option.
 *
 * @example
 * ```ts
 * import { createTelemetry } from 'llm-orchestrator/otel';
 * const telemetry = createTelemetry({ capture: { content: false } });
 * telemetry.attach(engine);
 * ```
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const parsed = TelemetryOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'telemetry options are invalid', toIssues(parsed.error.issues, ['options']));
  const tracer = options.traces === false ? undefined : options.tracer ?? globalTracer();
  const meter = options.metrics === false ? undefined : options.meter ?? globalMeter();
  const tracing = tracer === undefined ? undefined : createTracing({ tracer, ...(options.capture === undefined ? {} : { capture: options.capture }) });
  const alerts$ = new Subject<AlertEvent>();
  const errors$ = new Subject<TelemetryError>();
  const failures: Record<string, number> = {};
  const failed = (s: EventSink, e: EngineEvent, error: unknown): void => {
    const sink = s.name ?? 'sink';
    failures[sink] = (failures[sink] ?? 0) + 1;
    errors$.next({ sink, eventType: e.type, error });
  };
  return {
    alerts$: alerts$.asObservable(),
    errors$: errors$.asObservable(),
    failures: () => ({ ...failures }),
    traceContext: (runId, nodeId) => tracing?.traceContext(runId, nodeId),
    attach(engine) {
      const sinks: EventSink[] = [];
      if (tracing !== undefined) sinks.push(tracing);
      if (meter !== undefined) {
        sinks.push(createMetrics({
          meter,
          ...(engine.load === undefined ? {} : { load: () => engine.load!() }),
        }));
      }
      let alertSub: Subscription | undefined;
      if (options.alerts !== undefined && options.alerts.length > 0) {
        const a = createAlerts({
          rules: options.alerts,
          ...(options.now === undefined ? {} : { now: options.now }),
          ...(options.alertTickMs === undefined ? {} : { tickMs: options.alertTickMs }),
        });
        alertSub = a.alerts$.subscribe((alert) => alerts$.next(alert));
        sinks.push(a);
      }
      // nothing to feed (no SDK, no rules): no subscriber, so the engine builds no events at all
      if (sinks.length === 0) return new Subscription();
      const sub = engine.events$.subscribe((e) => {
        for (const s of sinks) {
          try {
            s.observe(e);
          } catch (error) {
            failed(s, e, error);
          }
        }
      });
      sub.add(() => {
        alertSub?.unsubscribe();
        for (const s of sinks) s.close?.();
      });
      return sub;
    },
  };
}
