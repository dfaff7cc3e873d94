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
