/**
 * Exit codes of `llmo`, in one place. Re-exported by main.ts as `EXIT`.
 *
 * | code | meaning |
 * | ---- | ------- |
 * | 0    | completed |
 * | 1    | the run failed, or `submit` timed out waiting for results |
 * | 2    | invalid usage, input, topology or options (also `--kafka-config`, `KAFKA_*`, a mismatching existing topic) |
 * | 69   | Kafka unavailable: no broker reachable (sysexits EX_UNAVAILABLE) |
 * | 77   | Kafka refused the credentials, or the TLS handshake failed (sysexits EX_NOPERM) |
 * | 130  | cancelled (Ctrl-C) |
 * @module
 */

/**
 * Exit codes of the CLI.
 *
 * @example
 * ```ts
 * if (!loaded.ok) return EXIT.invalid;
 * ```
 */
export const EXIT = {
  /** The command did what was asked; a run completed. */
  ok: 0,
  /** A run failed, or `submit` gave up waiting for results (`--timeout`). */
  runFailed: 1,
  /** Invalid usage, `--input`, topology or options (also Kafka settings, or an existing topic that does not fit them). */
  invalid: 2,
  /** No Kafka broker could be reached, or Kafka failed otherwise (sysexits EX_UNAVAILABLE). */
  unavailable: 69,
  /** Kafka refused the SASL credentials, or the TLS handshake failed (sysexits EX_NOPERM). */
  denied: 77,
  /** The run was cancelled (SIGINT). */
  cancelled: 130,
} as const;

/**
 * One of the {@link EXIT} codes.
 *
 * @example
 * ```ts
 * const code: ExitCode = EXIT.ok;
 * ```
 */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
