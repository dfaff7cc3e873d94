/**
 * One client of a run's stream: writes frames to its response with backpressure.
 * While the socket takes data, frames go straight to `write`; once `write` returns
 * false, frames queue until `drain`. A client whose queue passes its byte limit has
 * stopped reading: it is dropped (its socket destroyed, its queue freed) and whoever
 * made it is told, so nothing is ever buffered without bound.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { START, comparePositions, type Frame, type StreamPosition } from './frame.ts';

/**
 * Why a client left: it closed the connection, it was dropped for not reading, its stream ended, or the server closed.
 *
 * @example
 * ```ts
 * client.onClose((why) => { if (why === 'dropped') metrics.dropped++; });
 * ```
 */
export type CloseReason = 'disconnected' | 'dropped' | 'ended' | 'closed';

/**
 * A client of a run's stream.
 *
 * @example
 * ```ts
 * const client = new StreamClient(reply.raw, { runId, keyId: p.keyId, limitBytes: 1 << 20 });
 * client.send(frame);
 * ```
 */
export class StreamClient {
  readonly runId: string;
  readonly keyId: string;
  /** The last position written (frames at or before it are skipped: stored and live events overlap). */
  position: StreamPosition = START;
  readonly #res: ServerResponse;
  readonly #limit: number;
  #queue: Buffer[] = [];
  #queued = 0;
  #blocked = false;
  #corked = false;
  #closed: CloseReason | undefined;
  readonly #listeners: ((why: CloseReason, queuedBytes: number) => void)[] = [];

  constructor(res: ServerResponse, options: { readonly runId: string; readonly keyId: string; readonly limitBytes: number }) {
    this.#res = res;
    this.runId = options.runId;
    this.keyId = options.keyId;
    this.#limit = options.limitBytes;
    res.on('close', () => this.#close('disconnected'));
    res.on('error', () => this.#close('disconnected'));
  }

  /** Whether the client left (no more writes). */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Bytes waiting for the socket to drain. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Calls `f` once when the client leaves. */
  onClose(f: (why: CloseReason, queuedBytes: number) => void): void {
    if (this.#closed !== undefined) f(this.#closed, this.#queued);
    else this.#listeners.push(f);
  }

  /** Writes `frame` unless it is at or before the client's position; moves the position. */
  send(frame: Frame): void {
    if (comparePositions(frame.at, this.position) <= 0) return;
    this.position = frame.at;
    this.write(frame.bytes);
  }

  /** Writes bytes (a comment, a ping, a history frame), queueing them while the socket is full. */
  write(bytes: Buffer): void {
    if (this.#closed !== undefined) return;
    if (this.#blocked) {
      this.#queue.push(bytes);
      this.#queued += bytes.length;
      // The oldest frame queued is not counted: one event larger than the limit (a long node
      // output) does not drop a client that reads; the queue stays within the limit plus one frame.
      if (this.#queued - this.#queue[0]!.length > this.#limit) this.#drop();
      return;
    }
    // Frames written in one turn of the event loop (a burst of tokens) leave in one system call.
    // The socket is corked, not the response: a corked response in Node 22 buffers every write and
    // always answers `true`, so a client that stopped reading would never be seen.
    const socket = this.#res.socket;
    if (!this.#corked && socket != null) {
      this.#corked = true;
      socket.cork();
      process.nextTick(this.#uncork);
    }
    if (!this.#res.write(bytes)) this.#block();
  }

  readonly #uncork = (): void => {
    if (!this.#corked) return;
    this.#corked = false;
    this.#res.socket?.uncork();
  };

  /**
   * Ends the response after what is corked (uncorked first, so the chunked terminator of `end()`
   * can never go out ahead of corked chunks).
   */
  #endResponse(): void {
    this.#uncork();
    this.#res.end();
  }

  /** Writes the last bytes and ends the response. */
  end(last?: Buffer): void {
    if (this.#closed !== undefined) return;
    if (last !== undefined) this.write(last);
    if (this.#closed !== undefined) return;
    if (this.#blocked) {
      // Whatever is queued goes first (the queue is bounded); the flush ends the response.
      this.#closed = 'ended';
      this.#fire();
      return;
    }
    this.#closed = 'ended';
    this.#endResponse();
    this.#fire();
  }

  /** Ends the stream because the server closes. */
  shutdown(): void {
    if (this.#closed !== undefined) return;
    this.#closed = 'closed';
    this.#endResponse();
    this.#fire();
  }

  #block(): void {
    this.#blocked = true;
    this.#res.once('drain', this.#flush);
  }

  readonly #flush = (): void => {
    this.#blocked = false;
    while (this.#queue.length > 0) {
      const b = this.#queue.shift()!;
      this.#queued -= b.length;
      if (!this.#res.write(b)) {
        this.#block();
        return;
      }
    }
    if (this.#closed === 'ended') this.#endResponse();
  };

  #drop(): void {
    const queued = this.#queued;
    this.#closed = 'dropped';
    this.#queue = [];
    this.#queued = 0;
    this.#res.destroy();
    for (const f of this.#listeners.splice(0)) f('dropped', queued);
  }

  #close(why: CloseReason): void {
    if (this.#closed !== undefined) return;
    this.#closed = why;
    this.#queue = [];
    this.#queued = 0;
    this.#fire();
  }

  #fire(): void {
    for (const f of this.#listeners.splice(0)) f(this.#closed!, this.#queued);
  }
}
