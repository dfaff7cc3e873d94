/**
 * Several guards' watches of one model call combined into one: the first cut wins, every
 * `ended` is told, and outputs are checked in order (a redaction is what the next one reads).
 * @module
 */
import type { CallWatch, OutputVerdict } from '../definition/guard.ts';
import { ALLOW } from './guard-walk.ts';

/**
 * One watch for several: the first cut wins, every `ended` is told (through `safely`, since a
 * failure there can refuse nothing any more), outputs are checked in order.
 *
 * @example
 * ```ts
 * const watch = combineWatches([budgetWatch, piiWatch], (f) => { try { f(); } catch (e) { log.error({ err: e }, 'a guard failed'); } });
 * watch.streamed?.(120, 0.002); // undefined, or the first guard's cut
 * ```
 */
export function combineWatches(watches: readonly CallWatch[], safely: (f: () => void, what: string) => void): CallWatch {
  const streamers = watches.filter((w) => w.streamed !== undefined);
  const enders = watches.filter((w) => w.ended !== undefined);
  const checkers = watches.filter((w) => w.output !== undefined);
  const watch: { -readonly [K in keyof CallWatch]: CallWatch[K] } = {};
  if (streamers.length > 0) {
    watch.streamed = (tokens, cost) => {
      for (const w of streamers) {
        const e = w.streamed!(tokens, cost);
        if (e !== undefined) return e;
      }
      return undefined;
    };
  }
  if (enders.length > 0) {
    watch.ended = (used) => {
      for (const w of enders) safely(() => w.ended!(used), 'call end');
    };
  }
  if (checkers.length > 0) {
    watch.output = async (text) => {
      let redacted: OutputVerdict | undefined;
      for (const w of checkers) {
        const v = await w.output!(redacted?.action === 'redact' ? redacted.text : text);
        if (v.action === 'deny') return v;
        if (v.action === 'redact') redacted = v;
      }
      return redacted ?? ALLOW;
    };
  }
  return watch;
}
