/**
 * Dead letters that always fit. A dead letter is the original record plus its
 * metadata (topic, partition, offset, reason, key, headers, time), so a record
 * near the broker's size limit makes a dead letter over it, the send fails and
 * the consumer would stop on that record forever. Here the dead letter is built
 * to fit `maxMessageBytes`: the reason, key and headers are capped, and the
 * payload is cut to the bytes left (`truncated: true`, `originalSize`). Every
 * dead letter written is a `dead-lettered` event; when even the metadata-only
 * record cannot be sent, the dead-lettering rejects (the consumer then keeps the
 * offset uncommitted).
 * @module
 */
import type { KafkaMessage } from 'kafkajs';
import { isOrchestratorError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import type { Codec } from '../codec.ts';
import type { TransportEvent } from '../health.ts';
import type { DeadLetterMessage } from '../messages.ts';
import { headersOf } from './decode.ts';
import { recordBytes } from './producer.ts';

/** Longest reason kept, characters. */
const MAX_REASON = 8192;
/** Most bytes of the original key kept (in the dead letter and as its record key). */
const MAX_KEY = 4096;
/** Most bytes of the original headers kept. */
const MAX_HEADERS = 16_384;

/**
 * Where a record to dead-letter came from, and why.
 *
 * @example
 * ```ts
 * const source: DeadLetterSource = { topic: 'prod.feedback', partition: 2, message, reason: 'cannot decode feedback: truncated buffer' };
 * ```
 */
export interface DeadLetterSource {
  readonly topic: string;
  readonly partition: number;
  readonly message: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'offset'>;
  readonly reason: string;
}

/**
 * A dead letter ready to send: its record key and value.
 *
 * @example
 * ```ts
 * const { key, value } = buildDeadLetter(source, { codec, maxMessageBytes: 1_000_000 });
 * ```
 */
export interface BuiltDeadLetter {
  readonly key: string;
  readonly value: DeadLetterMessage;
}

/** Cuts a UTF-8 string to at most `bytes` bytes (on a character boundary). */
function cutUtf8(s: string, bytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= bytes) return s;
  let end = bytes;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return b.subarray(0, end).toString('utf8');
}

function capHeaders(h: Readonly<Record<string, string>>): { headers: Record<string, string>; cut: boolean } {
  const headers: Record<string, string> = {};
  let bytes = 0;
  let cut = false;
  for (const [k, v] of Object.entries(h)) {
    const n = Buffer.byteLength(k) + Buffer.byteLength(v);
    if (bytes + n > MAX_HEADERS) {
      cut = true;
      continue;
    }
    headers[k] = v;
    bytes += n;
  }
  return { headers, cut };
}

/**
 * Builds the dead letter of a record so that its encoded record (key, Avro value, codec headers)
 * is at most `maxMessageBytes`: the payload is cut to the bytes left after the metadata, and
 * `truncated`/`originalSize` say so. `metadataOnly` leaves the payload out altogether.
 *
 * @example
 * ```ts
 * const dl = buildDeadLetter({ topic, partition, message, reason }, { codec, maxMessageBytes: 1_000_000 });
 * await sender.send('deadLetter', [dl]);
 * ```
 */
export function buildDeadLetter(
  source: DeadLetterSource,
  options: { readonly codec: Codec; readonly maxMessageBytes: number; readonly metadataOnly?: boolean; readonly now?: () => number },
): BuiltDeadLetter {
  const m = source.message;
  const keyBuf = m.key === null || m.key === undefined ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
  const key = keyBuf === null ? null : keyBuf.subarray(0, MAX_KEY);
  const recordKey = cutUtf8(keyBuf?.toString('utf8') ?? '', MAX_KEY);
  const reason = source.reason.length > MAX_REASON ? `${source.reason.slice(0, MAX_REASON)}… (reason cut)` : source.reason;
  const capped = capHeaders(headersOf(m.headers));
  const payload = m.value === null || m.value === undefined ? null : Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value);
  const metaCut = capped.cut || (keyBuf !== null && keyBuf.length > MAX_KEY);
  const meta: DeadLetterMessage = {
    topic: source.topic, partition: source.partition, offset: m.offset, reason, key, value: null, headers: capped.headers,
    ts: (options.now ?? Date.now)(), truncated: true, originalSize: payload?.length ?? null,
  };
  const encodedSize = (v: DeadLetterMessage): number => {
    const e = options.codec.encode('deadLetter', v);
    return recordBytes(recordKey, e.value, e.headers);
  };
  if (payload === null || options.metadataOnly === true) {
    const value: DeadLetterMessage = { ...meta, truncated: metaCut || (payload !== null && payload.length > 0) };
    return { key: recordKey, value };
  }
  // The payload adds its bytes, a length varint (at most 5 bytes) and nothing else (the union branch byte is there already).
  const room = options.maxMessageBytes - encodedSize(meta) - 5;
  if (payload.length <= room) return { key: recordKey, value: { ...meta, value: payload, truncated: metaCut } };
  return { key: recordKey, value: { ...meta, value: payload.subarray(0, Math.max(0, room)), truncated: true } };
}

/**
 * What {@link createDeadLetterer} needs.
 *
 * @example
 * ```ts
 * createDeadLetterer({ send: (m) => sender.send('deadLetter', m), codec, maxMessageBytes: 1_000_000, emit: (e) => events.next(e) });
 * ```
 */
export interface DeadLetterDeps {
  /** Sends to the dead-letter topic (the transport's sender). */
  readonly send: (messages: readonly BuiltDeadLetter[]) => Promise<void>;
  readonly codec: Codec;
  readonly maxMessageBytes: number;
  /** Receives a `dead-lettered` event per dead letter written. */
  readonly emit: (event: TransportEvent) => void;
  readonly log?: Logger | undefined;
}

/**
 * Dead-letters a record of `topic`; resolves once the dead letter is written, rejects when not even the metadata could be.
 *
 * @example
 * ```ts
 * await deadLetter('prod.feedback', 2, message, 'cannot decode feedback: truncated buffer');
 * ```
 */
export type DeadLetterer = (topic: string, partition: number, message: KafkaMessage, reason: string) => Promise<void>;

/**
 * Creates the dead-lettering of a transport: builds a dead letter that fits, sends it, and emits
 * `dead-lettered`. When the broker still refuses it as too large (its `message.max.bytes` is below
 * `maxMessageBytes`), the metadata alone is sent; when that fails too, the promise rejects.
 *
 * @example
 * ```ts
 * const deadLetter = createDeadLetterer({ send: (m) => sender.send('deadLetter', m), codec, maxMessageBytes, emit });
 * await deadLetter(topics.feedback, partition, message, reason);
 * ```
 */
export function createDeadLetterer(deps: DeadLetterDeps): DeadLetterer {
  const log = deps.log ?? silentLogger;
  return async (topic, partition, message, reason) => {
    const source: DeadLetterSource = { topic, partition, message, reason };
    let dl = buildDeadLetter(source, { codec: deps.codec, maxMessageBytes: deps.maxMessageBytes });
    log.warn({ topic, partition, offset: message.offset, reason, truncated: dl.value.truncated }, 'dead-lettering a message');
    try {
      await deps.send([dl]);
    } catch (e) {
      if (!(isOrchestratorError(e) && e.code === 'KAFKA_RECORD_TOO_LARGE')) throw e;
      dl = buildDeadLetter(source, { codec: deps.codec, maxMessageBytes: deps.maxMessageBytes, metadataOnly: true });
      await deps.send([dl]);
    }
    deps.emit({ type: 'dead-lettered', topic, partition, offset: message.offset, reason, truncated: dl.value.truncated === true, ts: Date.now() });
  };
}
