/**
 * The value parsers of `llmo`'s numeric options: each turns the flag's text into a
 * number or rejects it with commander's `InvalidArgumentError`, which commander
 * reports as `option '<flag>' argument '<v>' is invalid. <reason>` (exit 2).
 * Commander only, so `llmo --help` still loads next to nothing.
 * @module
 */
import { InvalidArgumentError } from 'commander';

/**
 * A number greater than 0 (fractions allowed).
 *
 * @example
 * ```ts
 * cmd.option('--deadline <ms>', 'fail the run if it takes longer', positive);
 * ```
 */
export const positive = (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
};

/**
 * An integer greater than 0.
 *
 * @example
 * ```ts
 * cmd.option('--limit <n>', 'at most this many (default 50)', positiveInt);
 * ```
 */
export const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

/**
 * An integer of 0 or more.
 *
 * @example
 * ```ts
 * cmd.option('--seq <n>', 'as of this event seq (inclusive)', nonNegativeInt);
 * ```
 */
export const nonNegativeInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

/**
 * A share from 0 to 1 (inclusive); an empty value is refused.
 *
 * @example
 * ```ts
 * cmd.option('--sample-rate <r>', 'share of runs sent for evaluation, 0..1', rate);
 * ```
 */
export const rate = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
};

/**
 * A Kafka `retention.ms`: an integer of milliseconds, or -1 (keep forever).
 *
 * @example
 * ```ts
 * cmd.option('--retention-ms <ms>', 'retention.ms of topics created', retention);
 * ```
 */
export const retention = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < -1) throw new InvalidArgumentError('must be an integer of ms, or -1 (keep forever)');
  return n;
};

/**
 * A TCP port from 0 to 65535 (0: any free port).
 *
 * @example
 * ```ts
 * cmd.option('-p, --port <port>', 'port to listen on (0: any free one)', port, 8787);
 * ```
 */
export const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number (0-65535; 0: any free port)');
  return n;
};

/** Seconds per unit of a {@link perWindow} window. */
const WINDOW_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/**
 * A request limit: `<max>` (per minute) or `<max>/<window>` with the window in seconds,
 * minutes or hours (`1200/60s`, `100/1m`, `5000/1h`).
 *
 * @example
 * ```ts
 * cmd.option('--rate-limit <max/window>', 'requests per key', perWindow); // '100/1m' → { max: 100, windowMs: 60000 }
 * ```
 */
export const perWindow = (v: string): { max: number; windowMs: number } => {
  const m = /^(\d+)(?:\/(\d+)([smh]))?$/.exec(v.trim());
  const max = m === null ? NaN : Number(m[1]);
  const windowMs = m === null ? NaN : m[2] === undefined ? 60_000 : Number(m[2]) * WINDOW_UNITS[m[3]!]! * 1000;
  if (!(max > 0) || !(windowMs > 0)) throw new InvalidArgumentError('must be <max> (per minute) or <max>/<window> with a window such as 60s, 1m or 1h');
  return { max, windowMs };
};

/**
 * Which proxies to trust for the client's address: `true`, a number of hops, or proxy
 * addresses and CIDR ranges, comma-separated (`10.0.0.0/8,127.0.0.1`).
 *
 * @example
 * ```ts
 * cmd.option('--trust-proxy <hops|addresses>', 'proxies in front of the server', trustProxy);
 * ```
 */
export const trustProxy = (v: string): true | number | string[] => {
  const t = v.trim();
  if (t === 'true') return true;
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1) throw new InvalidArgumentError('a number of hops must be at least 1');
    return n;
  }
  const list = t.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (list.length === 0 || list.some((x) => !/^[0-9A-Fa-f:.]+(\/\d{1,3})?$|^(loopback|linklocal|uniquelocal)$/.test(x))) {
    throw new InvalidArgumentError('must be true, a number of hops, or proxy addresses and CIDR ranges, comma-separated (loopback, linklocal and uniquelocal name ranges)');
  }
  return list;
};
