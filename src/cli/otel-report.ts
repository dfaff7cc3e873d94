/**
 * How the CLI shows what the OpenTelemetry SDK reports (its diag messages, a failing export):
 * each distinct problem once, as a line a person reads.
 * @module
 */
import type { DiagLogger } from '@opentelemetry/api';

/**
 * A severity of a line the SDK reports.
 *
 * @example
 * ```ts
 * const report = (level: OtelReportLevel, message: string): void => { logger[level](message); };
 * ```
 */
export type OtelReportLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * The core of a message the SDK reports: errors arrive as JSON of the exception (`stringifyException`).
 *
 * @example
 * ```ts
 * coreMessage('{"message":"connect ECONNREFUSED 127.0.0.1:4318","code":"ECONNREFUSED"}'); // 'connect ECONNREFUSED 127.0.0.1:4318'
 * ```
 */
export function coreMessage(text: string): string {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const m = (JSON.parse(t) as { message?: unknown }).message;
      if (typeof m === 'string' && m !== '') return m;
    } catch {
      // not JSON: as written
    }
  }
  return t;
}

/**
 * What makes two reported errors the same: the innermost error text (`... failed (error Error: connect
 * ECONNREFUSED 127.0.0.1:4318)` and `connect ECONNREFUSED 127.0.0.1:4318` are one problem: the
 * metrics and the traces exporter failing on the same endpoint).
 *
 * @example
 * ```ts
 * sameProblem('PeriodicExportingMetricReader: metrics export failed (error Error: connect ECONNREFUSED 127.0.0.1:4318)');
 * // 'connect ECONNREFUSED 127.0.0.1:4318'
 * ```
 */
export function sameProblem(message: string): string {
  const inner = /\(error (?:[A-Za-z]*Error: )?(.+)\)$/.exec(message);
  return inner === null ? message : inner[1]!;
}

/**
 * The text of one argument of a diag call (an error's message, a stringified exception's message).
 *
 * @example
 * ```ts
 * argText(new Error('boom')); // 'boom'
 * ```
 */
export const argText = (a: unknown): string => (a instanceof Error ? a.message : typeof a === 'string' ? coreMessage(a) : JSON.stringify(a) ?? String(a));

/**
 * A diag logger writing through `report`: errors and warnings once per distinct problem, the
 * lower levels as they come (they are shown only when `OTEL_LOG_LEVEL` asks for them).
 *
 * @example
 * ```ts
 * diag.setLogger(onceDiagLogger((level, m) => console.error(level, m)), DiagLogLevel.WARN);
 * ```
 */
export function onceDiagLogger(report: (level: OtelReportLevel, message: string) => void): DiagLogger & { once(level: 'error' | 'warn', message: string): void } {
  const seen = new Set<string>();
  const once = (level: 'error' | 'warn', message: string): void => {
    const key = sameProblem(message);
    if (seen.has(key)) return;
    seen.add(key);
    report(level, message);
  };
  const text = (message: string, args: unknown[]): string => [coreMessage(message), ...args.map(argText)].filter((s) => s !== '').join(' ');
  return {
    once,
    error: (m, ...args) => once('error', text(m, args)),
    warn: (m, ...args) => once('warn', text(m, args)),
    info: (m, ...args) => report('info', text(m, args)),
    debug: (m, ...args) => report('debug', text(m, args)),
    verbose: (m, ...args) => report('debug', text(m, args)),
  };
}

/**
 * A `report` for short-lived commands: one `llmo: telemetry <level>: ...` line on `err` each.
 *
 * @example
 * ```ts
 * const otel = await startCliTelemetry({ command: 'run', env, report: lineReport(io.err) });
 * ```
 */
export function lineReport(err: NodeJS.WritableStream): (level: OtelReportLevel, message: string) => void {
  return (level, message) => { err.write(`llmo: telemetry ${level}: ${message}\n`); };
}

