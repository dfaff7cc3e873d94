/**
 * The dead-letter message: a message that could not be read (or handled), with the reason, as a
 * TypeScript type mirroring the Avro schema in `schemas/`.
 * @module
 */

/**
 * A message that could not be read (or handled), with the reason (v2; v1 data reads with
 * `truncated: false, originalSize: null`).
 *
 * @example
 * ```ts
 * transport.read('deadLetter', { fromBeginning: true }).subscribe((m) => console.warn(m.value.topic, m.value.reason, m.value.truncated));
 * ```
 */
export interface DeadLetterMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly reason: string;
  readonly key: Buffer | null;
  /** The original payload, or its first bytes when `truncated`. */
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly ts: number;
  /** Whether the payload (or the key or headers) was cut so the dead letter fits the size limit. Read: always set; written: default false. */
  readonly truncated?: boolean;
  /** Bytes of the original payload (null when it had none). Read: always set; written: default null. */
  readonly originalSize?: number | null;
}
