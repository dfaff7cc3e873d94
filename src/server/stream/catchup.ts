/**
 * Catching a client up: the stored events it missed (read from the store) and the ring's
 * recent frames (tokens included) merged in stream order without duplicates, and the check
 * that no stored event is missing between them.
 * @module
 */
import type { StoredEvent } from '../../runtime/store.ts';
import { comparePositions, eventFrame, type Frame, type StreamPosition } from './frame.ts';

/**
 * Frames of stored events, at their `seq`.
 *
 * @example
 * ```ts
 * const frames = historyFrames(await runs.history(runId, { fromSeq: 13 }));
 * ```
 */
export function historyFrames(events: readonly StoredEvent[]): Frame[] {
  return events.map((e) => eventFrame(e, { seq: e.seq, n: -1 }));
}

/**
 * Merges stored frames and ring frames (each in order) in position order, without duplicates;
 * at a position in both, the ring's frame wins (it is serialized once for every client).
 *
 * @example
 * ```ts
 * for (const f of merge(historyFrames(events), channel.framesAfter(from))) client.send(f);
 * ```
 */
export function merge(stored: readonly Frame[], ring: readonly Frame[]): Frame[] {
  const out: Frame[] = [];
  let i = 0;
  let j = 0;
  while (i < stored.length || j < ring.length) {
    const x = stored[i];
    const y = ring[j];
    const c = x === undefined ? 1 : y === undefined ? -1 : comparePositions(x.at, y.at);
    const f = c < 0 ? x! : y!;
    if (c <= 0) i++;
    if (c >= 0) j++;
    const prev = out[out.length - 1];
    if (prev === undefined || comparePositions(prev.at, f.at) < 0) out.push(f);
  }
  return out;
}

/**
 * Whether the stored events among `frames` follow `from` without a gap.
 *
 * @example
 * ```ts
 * contiguous(frames, { seq: 12, n: -1 }); // true when the first stored frame is 13, then 14, ...
 * ```
 */
export function contiguous(frames: readonly Frame[], from: StreamPosition): boolean {
  let next = from.seq + 1;
  for (const f of frames) {
    if (f.unstored) continue;
    if (f.at.seq !== next) return false;
    next++;
  }
  return true;
}
