/**
 * `--slo <file>`: the SLO rules a command evaluates over its engine's events (YAML or JSON), and
 * the alerts they raise printed as one line each on stderr.
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { Logger as PinoLogger } from 'pino';
import type { Observable, Subscription } from 'rxjs';
import { isValidationError, type Issue } from '../errors.ts';
import type { AlertEvent, SloRule } from '../observability/alerts.ts';
import { formatAlert } from '../observability/alerts-format.ts';
import { parseSloRules } from '../observability/slo-rules.ts';

/**
 * Reads the rules of `--slo <file>` (none without a file); a file that cannot be read or parsed,
 * or a bad rule, is an issue naming the field (`rules.2.threshold`).
 *
 * @example
 * ```ts
 * const slo = await loadSlo(opts.slo);
 * if (!slo.ok) return reportIssues(io, `--slo ${opts.slo}`, slo.issues);
 * ```
 */
export async function loadSlo(file: string | undefined): Promise<{ ok: true; rules: readonly SloRule[] | undefined } | { ok: false; issues: readonly Issue[] }> {
  if (file === undefined) return { ok: true, rules: undefined };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, issues: [{ code: 'unreadable', path: [], message: (e as Error).message }] };
  }
  try {
    return { ok: true, rules: parseSloRules(text) };
  } catch (e) {
    if (isValidationError(e)) return { ok: false, issues: e.issues };
    throw e;
  }
}

/**
 * One line for an alert, as the CLI prints it.
 *
 * @example
 * ```ts
 * formatAlertLine(alert); // 'llmo: alert FIRING rag-failures: failure-rate 12.5% > 5.0% over 5m (...) since ...'
 * ```
 */
export function formatAlertLine(a: AlertEvent): string {
  return `llmo: alert ${formatAlert(a)}`;
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

/**
 * Logs each alert of a long-lived command (`worker`, `evaluate`) as a JSON line of component
 * `alerts`: firing at warn, resolved at info, the alert itself under `alert`.
 *
 * @example
 * ```ts
 * const alerts = logAlerts(otel.alerts$, logger);
 * // on stop: alerts.unsubscribe();
 * ```
 */
export function logAlerts(alerts$: Observable<AlertEvent>, logger: PinoLogger): Subscription {
  const log = logger.child({ component: 'alerts' });
  return printAlerts(alerts$, (a) => {
    if (a.state === 'firing') log.warn({ alert: a }, `alert ${formatAlert(a)}`);
    else log.info({ alert: a }, `alert ${formatAlert(a)}`);
  });
}
