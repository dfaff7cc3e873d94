/**
 * How a group member consumes a kind, checked with a zod schema and resolved to
 * its defaults in one place, so the memory and Kafka transports cannot drift.
 * @module
 */
import * as z from 'zod';
import { toIssues, ValidationError } from '../errors.ts';

/**
 * zod schema of {@link ConsumeOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * ConsumeOptionsSchema.parse({ group: 'workers', maxInFlight: 8, maxAttempts: 3, offsetReset: 'earliest' });
 * ```
 */
export const ConsumeOptionsSchema = z.strictObject({
  /** Consumer group: members of one group share the partitions. */
  group: z.string().min(1),
  /** Most handlers running at once across all partitions (backpressure). */
  maxInFlight: z.number().int().positive(),
  /**
   * Where a group with no committed offset starts: `earliest` (the oldest message) or `latest`
   * (only what is sent after it joined). Default `earliest`: for a work queue, a brand-new group
   * must not lose the requests submitted before its first worker started.
   */
  offsetReset: z.enum(['earliest', 'latest']).optional(),
  /** @deprecated Use `offsetReset`: `true` is `earliest`, `false` is `latest`. `offsetReset` wins when both are set. */
  fromBeginning: z.boolean().optional(),
  /** Attempts of a failing (rejecting) handler per delivery, in place, before the message is dead-lettered. Default 3. */
  maxAttempts: z.number().int().positive().optional(),
  /** Wait before the second attempt, ms; doubles per attempt, capped at 5000 (or at this value when larger). Default 200. */
  retryBackoffMs: z.number().int().nonnegative().optional(),
  /**
   * Deliveries of one message to this process (e.g. after its member was expelled for blocking the
   * event loop) before it is dead-lettered unhandled with reason `redelivered N times`. Default 5.
   * Kafka: a delivery that ran to its end without the event loop stalling for a whole session does not
   * count (the record merely ran beside the one that blocked), and a redelivered record runs alone.
   */
  maxDeliveries: z.number().int().positive().optional(),
  /** An attempt running longer counts as failed (its `signal` aborts), ms. Default: no limit. */
  handlerTimeoutMs: z.number().int().positive().optional(),
  /**
   * Whether the process is of no use while this consumer is out. `true` (default): a crashed
   * consumer, or a record it cannot dead-letter, makes its health part `down`. `false` (a side
   * stream such as feedback, policies or signals, while requests are still served): `degraded`
   * while it restarts or is stuck, and `down` only once restarting is given up.
   */
  essential: z.boolean().optional(),
});

/**
 * How to consume a kind as a group member: the input type of {@link ConsumeOptionsSchema}.
 *
 * @example
 * ```ts
 * const options: ConsumeOptions = { group: 'workers', maxInFlight: 8, offsetReset: 'latest', maxAttempts: 5 };
 * ```
 */
export type ConsumeOptions = Readonly<z.input<typeof ConsumeOptionsSchema>>;

/**
 * {@link ConsumeOptions} with every default filled in.
 *
 * @example
 * ```ts
 * const o: ResolvedConsumeOptions = resolveConsumeOptions({ group: 'g', maxInFlight: 4 }); // o.maxAttempts === 3
 * ```
 */
export interface ResolvedConsumeOptions {
  readonly group: string;
  readonly maxInFlight: number;
  readonly offsetReset: 'earliest' | 'latest';
  readonly maxAttempts: number;
  readonly retryBackoffMs: number;
  readonly maxDeliveries: number;
  readonly handlerTimeoutMs: number | undefined;
  readonly essential: boolean;
}

/**
 * Default of {@link ConsumeOptions.maxAttempts}.
 *
 * @example
 * ```ts
 * resolveConsumeOptions({ group: 'g', maxInFlight: 1 }).maxAttempts === DEFAULT_MAX_ATTEMPTS; // 3
 * ```
 */
export const DEFAULT_MAX_ATTEMPTS = 3;
/**
 * Default of {@link ConsumeOptions.retryBackoffMs}.
 *
 * @example
 * ```ts
 * resolveConsumeOptions({ group: 'g', maxInFlight: 1 }).retryBackoffMs === DEFAULT_RETRY_BACKOFF_MS; // 200
 * ```
 */
export const DEFAULT_RETRY_BACKOFF_MS = 200;
/**
 * Default of {@link ConsumeOptions.maxDeliveries}.
 *
 * @example
 * ```ts
 * resolveConsumeOptions({ group: 'g', maxInFlight: 1 }).maxDeliveries === DEFAULT_MAX_DELIVERIES; // 5
 * ```
 */
export const DEFAULT_MAX_DELIVERIES = 5;

/**
 * Checks `options` and fills in the defaults; invalid options throw a ValidationError
 * (`OPTIONS_INVALID`) naming the field.
 *
 * @example
 * ```ts
 * resolveConsumeOptions({ group: 'g', maxInFlight: 0 }); // throws: options.maxInFlight too small
 * ```
 */
export function resolveConsumeOptions(options: ConsumeOptions): ResolvedConsumeOptions {
  const parsed = ConsumeOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'consume options are invalid', toIssues(parsed.error.issues, ['options']));
  const o = parsed.data;
  return {
    group: o.group,
    maxInFlight: o.maxInFlight,
    offsetReset: o.offsetReset ?? (o.fromBeginning === false ? 'latest' : 'earliest'),
    maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryBackoffMs: o.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
    maxDeliveries: o.maxDeliveries ?? DEFAULT_MAX_DELIVERIES,
    handlerTimeoutMs: o.handlerTimeoutMs,
    essential: o.essential ?? true,
  };
}
