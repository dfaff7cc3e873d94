/**
 * The logger of the CLI's long-lived processes (`llmo worker`): pino JSON lines that carry the
 * active span's `trace_id`, `span_id` and `trace_flags` (so a log line finds its trace), a level per
 * component (`LOG_LEVEL=info` with `LOG_LEVELS=kafka=warn,worker=debug`, applied to the
 * `logger.child({ component })` loggers the library makes), and no secrets: known credential fields
 * are censored, and every message, error message and string field is scrubbed of the credentials
 * the process holds and of key-like strings.
 * @module
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import * as z from 'zod';
import type { Issue } from '../errors.ts';
import { createScrubber, scrubDeep, secretsFromEnv } from './scrub.ts';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const Level = z.enum(LEVELS, { error: `expected one of ${LEVELS.join(', ')}` });
/**
 * A pino level name.
 *
 * @example
 * ```ts
 * const level: LogLevel = 'warn';
 * ```
 */
export type LogLevel = z.infer<typeof Level>;

/**
 * The paths pino censors (`[redacted]`) in every line, whatever their value.
 *
 * @example
 * ```ts
 * REDACT_PATHS.includes('headers.authorization'); // true
 * ```
 */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  'apiKey', '*.apiKey', 'password', '*.password', '*.*.password', 'secret', '*.secret', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'headers["x-api-key"]', '*.headers["x-api-key"]', 'headers["proxy-authorization"]', '*.headers["proxy-authorization"]',
  'headers.cookie', '*.headers.cookie', 'sasl.password', '*.sasl.password',
]);

/**
 * The levels a process logs at: `level` for every line, `components` for the loggers whose
 * `component` binding matches a name.
 *
 * @example
 * ```ts
 * const levels: LogLevels = { level: 'info', components: { kafka: 'warn' } };
 * ```
 */
export interface LogLevels {
  readonly level: LogLevel;
  readonly components: Readonly<Record<string, LogLevel>>;
}

/**
 * Reads `LOG_LEVEL` (default `info`) and `LOG_LEVELS` (`component=level,...`); a bad level or entry
 * is an issue naming the variable (and the component).
 *
 * @example
 * ```ts
 * parseLogLevels({ LOG_LEVEL: 'info', LOG_LEVELS: 'kafka=warn,worker=debug' });
 * // { ok: true, value: { level: 'info', components: { kafka: 'warn', worker: 'debug' } } }
 * ```
 */
export function parseLogLevels(env: NodeJS.ProcessEnv): { ok: true; value: LogLevels } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  const base = Level.safeParse((env['LOG_LEVEL'] ?? '').trim() || 'info');
  if (!base.success) issues.push({ code: 'invalid_value', path: ['LOG_LEVEL'], message: `${JSON.stringify(env['LOG_LEVEL'])}: ${base.error.issues[0]!.message}` });
  const components: Record<string, LogLevel> = {};
  for (const entry of (env['LOG_LEVELS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim();
    if (name === '') {
      issues.push({ code: 'invalid_format', path: ['LOG_LEVELS'], message: `${JSON.stringify(entry)}: expected component=level` });
      continue;
    }
    const level = Level.safeParse(entry.slice(eq + 1).trim());
    if (level.success) components[name] = level.data;
    else issues.push({ code: 'invalid_value', path: ['LOG_LEVELS', name], message: `${JSON.stringify(entry.slice(eq + 1).trim())}: ${level.error.issues[0]!.message}` });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { level: base.success ? base.data : 'info', components } };
}

/**
 * The level `LOG_LEVELS` gives a component: its own entry, else the longest entry that is one of
 * its dash-separated parts (`kafka` covers `kafka-transport`, `worker` covers `remote-worker` and
 * `worker-loop`), else undefined (the parent's level).
 *
 * @example
 * ```ts
 * levelOf('kafka-transport', { kafka: 'warn' }); // 'warn'
 * ```
 */
export function levelOf(component: string, components: Readonly<Record<string, LogLevel>>): LogLevel | undefined {
  if (Object.hasOwn(components, component)) return components[component];
  let best: string | undefined;
  for (const name of Object.keys(components)) {
    const part = component.startsWith(`${name}-`) || component.endsWith(`-${name}`) || component.includes(`-${name}-`);
    if (part && (best === undefined || name.length > best.length)) best = name;
  }
  return best === undefined ? undefined : components[best];
}

/**
 * Options of {@link createCliLogger}.
 *
 * @example
 * ```ts
 * const options: CliLoggerOptions = { levels: { level: 'info', components: {} }, env: process.env };
 * ```
 */
export interface CliLoggerOptions {
  readonly levels: LogLevels;
  /** Where the credentials to scrub are read from (see `secretsFromEnv`). */
  readonly env?: NodeJS.ProcessEnv;
  /** More secrets to scrub, e.g. a password from a settings file. */
  readonly secrets?: readonly string[];
  /** Default: stderr. */
  readonly destination?: DestinationStream;
}

/** The active span's ids, as the OpenTelemetry log data model names them. */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const c = span.spanContext();
  if (!isSpanContextValid(c)) return {};
  return { trace_id: c.traceId, span_id: c.spanId, trace_flags: c.traceFlags.toString(16).padStart(2, '0') };
}

/**
 * A pino logger writing JSON lines (default to stderr) with the active span's ids, per-component
 * levels and secrets scrubbed.
 *
 * @example
 * ```ts
 * const levels = parseLogLevels(process.env);
 * if (levels.ok) {
 *   const logger = createCliLogger({ levels: levels.value, env: process.env });
 *   logger.child({ component: 'kafka-transport' }).debug('not written when LOG_LEVELS=kafka=warn');
 * }
 * ```
 */
export function createCliLogger(options: CliLoggerOptions): PinoLogger {
  const scrub = createScrubber([...secretsFromEnv(options.env ?? {}), ...(options.secrets ?? [])]);
  const { components } = options.levels;
  const errSerializer = pino.stdSerializers.err;
  return pino({
    level: options.levels.level,
    mixin: traceFields,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: {
      // the serialized error has pino's own prototype: copied to a plain object, scrubbed through
      err: (e: Error) => scrubDeep({ ...errSerializer(e) }, scrub) as ReturnType<typeof errSerializer>,
    },
    formatters: { log: (obj) => scrubDeep(obj, scrub) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        const [first, second] = args as unknown[];
        let out = (args as unknown[]).map((a) => (typeof a === 'string' ? scrub(a) : a));
        // pino takes the message of an error (or of `{ err }`) as the line's msg: scrub it here
        if (first instanceof Error && typeof second !== 'string') out = [{ err: first }, scrub(first.message), ...out.slice(1)];
        else if (typeof first === 'object' && first !== null && typeof second !== 'string' && (first as { err?: unknown }).err instanceof Error
          && (first as { msg?: unknown }).msg === undefined) {
          out = [first, scrub((first as { err: Error }).err.message), ...out.slice(1)];
        }
        (method as (...a: unknown[]) => void).apply(this, out);
      },
    },
    onChild(child) {
      const component = (child.bindings() as { component?: unknown }).component;
      if (typeof component !== 'string') return;
      const level = levelOf(component, components);
      if (level !== undefined) child.level = level;
    },
  }, options.destination ?? process.stderr);
}
