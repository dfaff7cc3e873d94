/**
 * `--slo <file>`: the SLO rules a command evaluates over its engine's events (YAML or JSON), and
 * the alerts they raise printed as one line each on stderr.
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { Observable, Subscription } from 'rxjs';
import * as z from 'zod';
import { toIssues, type Issue } from '../errors.ts';
import type { AlertEvent, SloRule } from '../observability/alerts.ts';

const RuleSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['failure-rate', 'p99-latency', 'cost-rate']),
  threshold: z.number().nonnegative(),
  windowMs: z.number().int().positive(),
});
const RulesSchema = z.union([z.array(RuleSchema), z.strictObject({ rules: z.array(RuleSchema) })]);

/**
 * Reads the rules of `--slo <file>` (none without a file); a file that cannot be read or parsed,
 * or a bad rule, is an issue naming the field.
 *
 * @example
 * ```ts
 * const slo = await loadSlo(opts.slo);
 * if (!slo.ok) return reportIssues(io, `--slo ${opts.slo}`, slo.issues);
 * ```
 */
export async function loadSlo(file: string | undefined): Promise<{ ok: true; rules: SloRule[] | undefined } | { ok: false; issues: Issue[] }> {
  if (file === undefined) return { ok: true, rules: undefined };
  let doc: unknown;
  try {
    const text = await readFile(file, 'utf8');
    const { parse } = await import('yaml'); // YAML 1.2 reads JSON too
    doc = parse(text) as unknown;
  } catch (e) {
    return { ok: false, issues: [{ code: 'unreadable', path: [], message: (e as Error).message }] };
  }
  const r = RulesSchema.safeParse(doc);
  if (!r.success) return { ok: false, issues: toIssues(r.error.issues) };
  return { ok: true, rules: Array.isArray(r.data) ? r.data : r.data.rules };
}

/**
 * One line for an alert.
 *
 * @example
 * ```ts
 * formatAlertLine({ type: 'alert', rule: 'failures', state: 'firing', value: 0.2, threshold: 0.05, ts: 0 });
 * // 'llmo: alert FIRING failures: 0.2 (threshold 0.05) at 1970-01-01T00:00:00.000Z'
 * ```
 */
export function formatAlertLine(a: AlertEvent): string {
  return `llmo: alert ${a.state.toUpperCase()} ${a.rule}: ${a.value} (threshold ${a.threshold}) at ${new Date(a.ts).toISOString()}`;
}

/**
 * Prints each alert of `alerts$` until unsubscribed: as one line on a stream (`io.err`), or through
 * a function (the worker logs it as a JSON line).
 *
 * @example
 * ```ts
 * const sub = printAlerts(otel.alerts$, io.err);
 * ```
 */
export function printAlerts(alerts$: Observable<AlertEvent>, to: NodeJS.WritableStream | ((a: AlertEvent) => void)): Subscription {
  return alerts$.subscribe((a) => {
    if (typeof to === 'function') to(a);
    else to.write(`${formatAlertLine(a)}\n`);
  });
}
