/**
 * Live cost totals and cost anomaly alerts from `model.call` events (they carry cost, tenant,
 * user, project, variant, model, topology and node). Time is cut into windows of `windowMs`
 * from the moment of subscription, on the given scheduler (virtual time in tests). At the end
 * of each window: a `cost.totals` event (per key of the chosen dims: totals since the watch
 * began and the window's spend), then, per key, a `cost.anomaly` when the window's spend is
 * at least `minSpendUsd` and more than `k` x the key's mean spend over the `trailingWindows`
 * windows before it (a key's first `trailingWindows` windows, from the one it first spent in,
 * only build its history), unless the key alerted less than `cooldownMs` ago.
 *
 * Memory: per key its totals and a ring of `trailingWindows + 1` sums, kept while subscribed.
 * At most `maxKeys` keys are told apart; calls of further keys go to one key whose every dim is
 * `(overflow)` (it shows in the totals, so nothing is dropped silently).
 * @module
 */
import { Observable, asyncScheduler, type SchedulerLike } from 'rxjs';
import * as z from 'zod';
import type { EngineEvent, ModelCallEvent } from '../../runtime/events.ts';
import { parseOptions } from '../../runtime/options.ts';
import { USAGE_OVERFLOW, UsageDimsSchema, type UsageDim } from '../../runtime/usage.ts';
import type { CostAnomalyEvent, CostEvent, CostKey, CostTotalsRow } from './events.ts';

const isScheduler = (v: unknown): v is SchedulerLike =>
  typeof v === 'object' && v !== null && typeof (v as { now?: unknown }).now === 'function' && typeof (v as { schedule?: unknown }).schedule === 'function';

/**
 * zod schema of {@link WatchCostOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * WatchCostOptionsSchema.parse({ dims: ['tenant', 'model'], windowMs: 60_000, k: 4 });
 * ```
 */
export const WatchCostOptionsSchema = z.strictObject({
  /** What spend is keyed by (default `['tenant']`). */
  dims: UsageDimsSchema.optional(),
  /** Window length, ms (default 60000): the spend rate is measured per window. */
  windowMs: z.number().int().positive().optional(),
  /** Windows before the current one whose mean is the baseline (default 10). */
  trailingWindows: z.number().int().positive().max(10_000).optional(),
  /** Alert when a window's spend exceeds k x the trailing mean (default 5). */
  k: z.number().finite().gt(1).optional(),
  /** Windows spending less than this (USD) never alert (default 0.01). */
  minSpendUsd: z.number().finite().nonnegative().optional(),
  /** After an alert, the same key raises none for this long, ms (default 5 x windowMs). */
  cooldownMs: z.number().int().nonnegative().optional(),
  /** Emit `cost.totals` at the end of each window (default true). */
  totals: z.boolean().optional(),
  /** Keys told apart at most (default 10000). */
  maxKeys: z.number().int().positive().optional(),
  /** Where windows are timed (default rxjs `asyncScheduler`; a `TestScheduler` in tests). */
  scheduler: z.custom<SchedulerLike>(isScheduler, 'expected an rxjs scheduler (now, schedule)').optional(),
});

/**
 * Options of {@link watchCost} (see {@link WatchCostOptionsSchema}).
 *
 * @example
 * ```ts
 * const options: WatchCostOptions = { dims: ['tenant'], windowMs: 60_000, trailingWindows: 15, k: 4, minSpendUsd: 0.5 };
 * ```
 */
export type WatchCostOptions = Readonly<z.input<typeof WatchCostOptionsSchema>>;

interface KeyState {
  readonly by: CostKey;
  costUsd: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Spend per window: ring of trailingWindows + 1, `cursor` the current one. */
  readonly ring: number[];
  /** Windows of history the ring holds (up to trailingWindows). */
  history: number;
  /** Anomaly alerts are off until then (scheduler ms). */
  quietUntil: number;
}

const valueOf = (e: ModelCallEvent, dim: UsageDim): string | undefined => {
  switch (dim) {
    case 'tenant': return e.tenant;
    case 'user': return e.user;
    case 'project': return e.project;
    case 'topology': return e.topology;
    case 'node': return e.nodeId;
    case 'model': return e.model;
    case 'variant': return e.variant;
  }
};

/**
 * Watches `model.call` events for live totals and cost anomalies (see the module doc). Invalid
 * options throw a `ValidationError` (`OPTIONS_INVALID`) naming the field. Completes when
 * `events$` completes, errors when it errors.
 *
 * @example
 * ```ts
 * watchCost(engine.events$, { dims: ['tenant'], windowMs: 60_000, k: 5, minSpendUsd: 1 })
 *   .subscribe((e) => { if (e.type === 'cost.anomaly') alert(`tenant ${e.by.tenant}: $${e.spendUsd.toFixed(2)} this minute, ${e.ratio.toFixed(1)}x its mean`); });
 * ```
 */
export function watchCost(events$: Observable<EngineEvent>, options: WatchCostOptions = {}): Observable<CostEvent> {
  const o = parseOptions(WatchCostOptionsSchema, options, 'watchCost options');
  const dims: readonly UsageDim[] = o.dims ?? ['tenant'];
  const windowMs = o.windowMs ?? 60_000;
  const trailing = o.trailingWindows ?? 10;
  const k = o.k ?? 5;
  const minSpend = o.minSpendUsd ?? 0.01;
  const cooldownMs = o.cooldownMs ?? 5 * windowMs;
  const emitTotals = o.totals ?? true;
  const maxKeys = o.maxKeys ?? 10_000;
  const scheduler = o.scheduler ?? asyncScheduler;
  const size = trailing + 1;

  return new Observable<CostEvent>((subscriber) => {
    const keys = new Map<string, KeyState>();
    let cursor = 0;
    const fresh = (by: CostKey): KeyState => ({ by, costUsd: 0, calls: 0, inputTokens: 0, outputTokens: 0, ring: new Array<number>(size).fill(0), history: 0, quietUntil: -Infinity });
    const overflowKey = JSON.stringify(dims.map(() => USAGE_OVERFLOW));

    const add = (e: ModelCallEvent): void => {
      const values = dims.map((d) => valueOf(e, d) ?? null);
      let id = JSON.stringify(values);
      let s = keys.get(id);
      if (s === undefined) {
        if (keys.size >= maxKeys) id = overflowKey;
        s = keys.get(id);
        if (s === undefined) {
          const by: Partial<Record<UsageDim, string | null>> = {};
          dims.forEach((d, j) => { by[d] = id === overflowKey ? USAGE_OVERFLOW : values[j] ?? null; });
          keys.set(id, (s = fresh(by)));
        }
      }
      const cost = Number.isFinite(e.costUsd) && e.costUsd > 0 ? e.costUsd : 0;
      s.costUsd += cost;
      s.calls += 1;
      s.inputTokens += e.usage?.inputTokens ?? 0;
      s.outputTokens += e.usage?.outputTokens ?? 0;
      s.ring[cursor] = (s.ring[cursor] ?? 0) + cost;
    };

    const closeWindow = (): void => {
      const now = scheduler.now();
      const anomalies: CostAnomalyEvent[] = [];
      const rows: CostTotalsRow[] = [];
      for (const s of keys.values()) {
        const spend = s.ring[cursor] ?? 0;
        if (emitTotals) rows.push({ by: s.by, costUsd: s.costUsd, calls: s.calls, inputTokens: s.inputTokens, outputTokens: s.outputTokens, windowCostUsd: spend });
        if (s.history >= trailing && now >= s.quietUntil && spend >= minSpend && spend > 0) {
          let sum = 0;
          for (let j = 1; j <= trailing; j++) sum += s.ring[(cursor - j + size) % size] ?? 0;
          const mean = sum / trailing;
          if (spend > k * mean) {
            anomalies.push({ type: 'cost.anomaly', ts: now, by: s.by, spendUsd: spend, trailingMeanUsd: mean, ratio: mean === 0 ? Infinity : spend / mean, k, windowMs, trailingWindows: trailing });
            s.quietUntil = now + cooldownMs;
          }
        }
        s.history = Math.min(trailing, s.history + 1);
      }
      cursor = (cursor + 1) % size;
      for (const s of keys.values()) s.ring[cursor] = 0;
      if (emitTotals) {
        rows.sort((a, b) => b.costUsd - a.costUsd);
        subscriber.next({ type: 'cost.totals', ts: now, windowMs, dims, rows });
      }
      for (const a of anomalies) subscriber.next(a);
    };

    const tick = scheduler.schedule(function again() {
      closeWindow();
      this.schedule(undefined, windowMs);
    }, windowMs);
    const source = events$.subscribe({
      next: (e) => { if (e.type === 'model.call') add(e); },
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => {
      tick.unsubscribe();
      source.unsubscribe();
    };
  });
}
