/**
 * Server-Sent-Event frames of a run's stream and their positions. A stored event is
 * `id: <seq>`; a token (or any other event that is not in the stored log: a restart, a
 * park) is `id: <seq>:<n>`, the n-th such event after stored event `seq`. Positions
 * order every message of a run: `(seq, -1)` for the stored event, `(seq, n)` after it.
 * Each event is serialized once into its frame, a Buffer written as is to every client.
 * @module
 */

/**
 * A position in a run's stream: stored event `seq` (`n` = -1) or the n-th unstored event after it.
 *
 * @example
 * ```ts
 * const afterTwelve: StreamPosition = { seq: 12, n: -1 }; // Last-Event-ID: 12
 * const sixthToken: StreamPosition = { seq: 12, n: 5 };   // Last-Event-ID: 12:5
 * ```
 */
export interface StreamPosition {
  readonly seq: number;
  readonly n: number;
}

/**
 * Before anything: a stream without `Last-Event-ID` starts here.
 *
 * @example
 * ```ts
 * const from = lastEventId === undefined ? START : parseEventId(lastEventId);
 * ```
 */
export const START: StreamPosition = Object.freeze({ seq: -1, n: -1 });

/**
 * One message of a run's stream, serialized.
 *
 * @example
 * ```ts
 * const f = eventFrame({ runId: 'r1', seq: 0, ts: 1, type: 'run.started' }, { seq: 0, n: -1 });
 * res.write(f.bytes);
 * ```
 */
export interface Frame {
  readonly at: StreamPosition;
  readonly type: string;
  /** Whether the frame is not in the stored log (a token, a restart, a park). */
  readonly unstored: boolean;
  /** The SSE message (made on first use, then the same Buffer for every client). */
  readonly bytes: Buffer;
}

/**
 * Orders two positions: negative when `a` comes first.
 *
 * @example
 * ```ts
 * comparePositions({ seq: 3, n: 0 }, { seq: 4, n: -1 }); // < 0
 * ```
 */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  return a.seq === b.seq ? a.n - b.n : a.seq - b.seq;
}

/**
 * The `id:` of a position.
 *
 * @example
 * ```ts
 * idOf({ seq: 12, n: 5 }); // '12:5'
 * ```
 */
export function idOf(at: StreamPosition): string {
  return at.n < 0 ? String(at.seq) : `${at.seq}:${at.n}`;
}

const ID = /^(\d{1,15})(?::(\d{1,15}))?$/;

/**
 * Parses a `Last-Event-ID` (`12` or `12:5`); undefined when it is not one.
 *
 * @example
 * ```ts
 * parseEventId('12:5'); // { seq: 12, n: 5 }
 * parseEventId('x');    // undefined
 * ```
 */
export function parseEventId(id: string): StreamPosition | undefined {
  const m = ID.exec(id.trim());
  if (m === null) return undefined;
  return { seq: Number(m[1]), n: m[2] === undefined ? -1 : Number(m[2]) };
}

/**
 * A frame for `event` at `at`: `id`, `event` (the event's type) and `data` (the event as JSON).
 * The event is serialized the first time its bytes are asked for, once: a run nobody
 * watches costs no serialization.
 *
 * @example
 * ```ts
 * const f = eventFrame(token, { seq: 4, n: 0 });
 * res.write(f.bytes);
 * ```
 */
export function eventFrame(event: { readonly type: string }, at: StreamPosition, encoded?: () => void): Frame {
  let bytes: Buffer | undefined;
  return {
    at, type: event.type, unstored: at.n >= 0,
    get bytes(): Buffer {
      if (bytes === undefined) {
        bytes = Buffer.from(`id: ${idOf(at)}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        encoded?.();
      }
      return bytes;
    },
  };
}

/**
 * The last frame of a stream: `event: end` with the run's status (`id` repeats the last position).
 *
 * @example
 * ```ts
 * res.end(endFrame('completed', { seq: 9, n: -1 }));
 * ```
 */
export function endFrame(status: string, at: StreamPosition): Buffer {
  return Buffer.from(`id: ${idOf(at)}\nevent: end\ndata: ${JSON.stringify({ status })}\n\n`);
}

/**
 * A stream's last frame when it cannot go on: `event: error` with an error body (`STREAM_FAILED`).
 *
 * @example
 * ```ts
 * client.end(errorFrame(new Error('the store is down')));
 * ```
 */
export function errorFrame(e: unknown): Buffer {
  const error = { code: 'STREAM_FAILED', message: `the run's history could not be read: ${e instanceof Error ? e.message : String(e)}` };
  return Buffer.from(`event: error\ndata: ${JSON.stringify({ error })}\n\n`);
}

/**
 * A comment line (ignored by `EventSource`; seen by anyone reading the raw stream).
 *
 * @example
 * ```ts
 * res.write(comment('ping'));
 * ```
 */
export function comment(text: string): Buffer {
  return Buffer.from(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
}

/**
 * What a client resuming before the oldest token kept gets, before the stored events.
 *
 * @example
 * ```ts
 * if (channel.lostAfter(from)) client.write(comment(TOKENS_GONE));
 * ```
 */
export const TOKENS_GONE = 'tokens before this point are gone; the node\'s output carries the whole text';

/**
 * What a client of a run that runs in another process gets first.
 *
 * @example
 * ```ts
 * client.write(comment(TOKENS_ELSEWHERE));
 * ```
 */
export const TOKENS_ELSEWHERE = 'this run runs in another process: its stored events follow as they are recorded, its tokens are not streamed here';
