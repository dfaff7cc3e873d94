/**
 * The budget guard's upkeep of its ledger: events to `onEvent` (a listener's failure changes
 * nothing), ledger failures counted and reported, ledger steps nothing waits for (settle,
 * release, refresh) tracked for `flush`, and the holds of live runs and calls refreshed every
 * third of the reservation TTL.
 * @module
 */
import type { BudgetLedger } from './ledger.ts';
import type { BudgetEvent } from './types.ts';

/**
 * The upkeep of one budget guard (see {@link createLedgerUpkeep}).
 *
 * @example
 * ```ts
 * const upkeep: LedgerUpkeep = createLedgerUpkeep({ ledger, clock: Date.now, ttl: 600_000 });
 * upkeep.track('release', 'r1', () => ledger.release('call|r1|answer|1'));
 * await upkeep.flush();
 * ```
 */
export interface LedgerUpkeep {
  /** Tells `onEvent`; a listener's own failure is swallowed (it must not change a decision). */
  emit(e: BudgetEvent): void;
  /** Counts a ledger failure and reports it (`ledger-failed`). */
  failed(op: string, error: unknown, runId?: string): void;
  /** A ledger step whose failure refuses (the caller's verdict becomes POLICY_FAILED): reported, then rethrown. */
  must<T>(op: string, runId: string, p: () => Promise<T>): Promise<T>;
  /** A ledger step nothing waits for (settle, release, refresh): tracked for `flush`, its failure reported. */
  track(op: string, runId: string | undefined, p: () => Promise<unknown>): void;
  /** Keeps the hold `id` refreshed (every third of the TTL) until {@link LedgerUpkeep.unhold}. */
  hold(id: string): void;
  /** Stops refreshing the hold `id`; the timer stops with the last hold. */
  unhold(id: string): void;
  /** Resolves once every tracked step started so far (and any they started) has finished. */
  flush(): Promise<void>;
  /** Ledger failures so far. */
  readonly failures: number;
  /** Stops refreshing every hold. */
  stop(): void;
}

/**
 * The upkeep of a guard's ledger: `ttl` is how long a hold lives without news, `clock` gives
 * epoch milliseconds.
 *
 * @example
 * ```ts
 * const upkeep = createLedgerUpkeep({ ledger: createMemoryLedger(), clock: Date.now, ttl: 600_000, onEvent: console.log });
 * const r = await upkeep.must('reserve', 'r1', () => ledger.reserve({ id, lines, expiresAt: Date.now() + 600_000, now: Date.now() }));
 * if (r.ok) upkeep.hold(id);
 * ```
 */
export function createLedgerUpkeep(o: {
  readonly ledger: BudgetLedger;
  readonly clock: () => number;
  readonly ttl: number;
  readonly onEvent?: ((e: BudgetEvent) => void) | undefined;
}): LedgerUpkeep {
  const { ledger, clock, ttl } = o;
  const pending = new Set<Promise<unknown>>();
  const live = new Set<string>();
  let failures = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const emit = (e: BudgetEvent): void => {
    try {
      o.onEvent?.(e);
    } catch {
      // a listener's own failure must not change a decision
    }
  };
  const failed = (op: string, error: unknown, runId?: string): void => {
    failures++;
    emit({ type: 'ledger-failed', op, error, runId });
  };
  const track = (op: string, runId: string | undefined, p: () => Promise<unknown>): void => {
    const q = p().catch((e: unknown) => failed(op, e, runId)).finally(() => pending.delete(q));
    pending.add(q);
  };

  return {
    emit,
    failed,
    must: async <T>(op: string, runId: string, p: () => Promise<T>): Promise<T> => {
      try {
        return await p();
      } catch (e) {
        failed(op, e, runId);
        throw e;
      }
    },
    track,
    hold: (id) => {
      live.add(id);
      timer ??= setInterval(() => {
        const now = clock();
        for (const h of live) track('refresh', undefined, () => ledger.extend({ id: h, lines: [], expiresAt: now + ttl, now }));
      }, Math.max(1, Math.floor(ttl / 3)));
      (timer as { unref?: () => void }).unref?.();
    },
    unhold: (id) => {
      live.delete(id);
      if (live.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    },
    flush: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    get failures() {
      return failures;
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      live.clear();
    },
  };
}
