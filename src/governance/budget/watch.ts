/**
 * The budget guard's watch of an allowed call: while it streams, more is asked for ahead of need
 * (half the estimate, once `extendAt` of the hold is used) and the call is cut past what it holds;
 * when it ends, its hold is settled with what it billed (or released).
 * @module
 */
import type { CallCheck, CallEstimate, CallWatch } from '../../definition/guard.ts';
import { PolicyError } from '../../errors.ts';
import type { BudgetLedger } from './ledger.ts';
import type { BudgetLine } from './lines.ts';
import type { Refused, RefusalStage } from './refusal.ts';
import type { LedgerUpkeep } from './upkeep.ts';

/**
 * What {@link watchCall} needs of its guard.
 *
 * @example
 * ```ts
 * const ctx: WatchContext = { name: 'budget', ledger, clock: Date.now, ttl: 600_000, extendAt: 0.8, upkeep, refuse };
 * ```
 */
export interface WatchContext {
  /** The guard's name, in errors. */
  readonly name: string;
  readonly ledger: BudgetLedger;
  readonly clock: () => number;
  /** How long a hold lives without news. */
  readonly ttl: number;
  /** Share of the hold streamed before more is asked for. */
  readonly extendAt: number;
  readonly upkeep: LedgerUpkeep;
  /** The error of a refusal of `lines` (reported as it is made). */
  readonly refuse: (stage: RefusalStage, r: Refused, lines: readonly BudgetLine[], runId: string) => PolicyError;
}

/**
 * The watch of a call holding `lines` under reservation `id` at estimate `est`: extends ahead of
 * need while it streams, cuts it when more was refused (or not granted in time), settles at the end.
 *
 * @example
 * ```ts
 * upkeep.hold(id);
 * return { action: 'allow', watch: watchCall(ctx, check, id, lines, check.estimate) };
 * ```
 */
export function watchCall(ctx: WatchContext, c: CallCheck, id: string, lines: readonly BudgetLine[], est: CallEstimate): CallWatch {
  const { name, ledger, clock, ttl, extendAt, upkeep } = ctx;
  // a call priced at 0 (a model without a price) streams at cost 0: its cost lines need no watching
  const costLines = est.costUsd > 0 ? lines.filter((l) => l.kind === 'cost') : [];
  const tokenLines = lines.filter((l) => l.kind === 'tokens');
  let heldCost = est.costUsd;
  let heldTokens = est.inputTokens + est.outputTokens;
  const extraCost = Math.max(est.costUsd / 2, 1e-9);
  const extraTokens = Math.max(Math.ceil(est.outputTokens / 2), 1);
  let asking: Promise<void> | undefined;
  let refused: PolicyError | undefined;
  let done = false;
  const ask = (): void => {
    const now = clock();
    const more = [...costLines.map((l) => ({ ...l, amount: extraCost })), ...tokenLines.map((l) => ({ ...l, amount: extraTokens }))];
    asking = ledger.extend({ id, lines: more, expiresAt: now + ttl, now }).then(
      (r) => {
        if (r.ok) {
          heldCost += extraCost;
          heldTokens += extraTokens;
        } else refused = ctx.refuse('stream', r, lines, c.runId);
      },
      (e: unknown) => {
        upkeep.failed('extend', e, c.runId);
        refused = new PolicyError('POLICY_FAILED', `${name}: the ledger failed while extending a streaming call's hold (cut: fail-closed)`, { rule: name, cause: e });
      },
    ).finally(() => {
      asking = undefined;
    });
  };
  return {
    streamed: (outputTokens, costUsd) => {
      if (done || (costLines.length === 0 && tokenLines.length === 0)) return undefined;
      const tokens = est.inputTokens + outputTokens;
      const cost = costLines.length > 0 ? costUsd : 0;
      if (asking === undefined && refused === undefined && (cost >= extendAt * heldCost || (tokenLines.length > 0 && tokens >= extendAt * heldTokens))) ask();
      // while more is being asked for, the call may go on into it; past it, or once refused, it is cut
      const capCost = heldCost + (asking === undefined ? 0 : extraCost);
      const capTokens = heldTokens + (asking === undefined ? 0 : extraTokens);
      const over = (costLines.length > 0 && cost > capCost * (1 + 1e-9)) || (tokenLines.length > 0 && tokens > capTokens);
      if (!over) return undefined;
      return refused ?? new PolicyError(costLines.length > 0 && cost > capCost ? 'BUDGET_EXCEEDED' : 'QUOTA_EXCEEDED', `${name}: the call streamed past what it holds and more was not granted in time`, { rule: (costLines[0] ?? tokenLines[0])!.rule });
    },
    ended: (used) => {
      if (done) return;
      done = true;
      upkeep.unhold(id);
      const wait = asking;
      upkeep.track(used === undefined ? 'release' : 'settle', c.runId, async () => {
        await wait; // an extension in flight lands before the hold is settled, never after
        if (used === undefined) return ledger.release(id);
        const actual: Record<string, number> = {};
        for (const l of lines) {
          actual[l.key] = (actual[l.key] ?? 0) + (l.kind === 'cost' ? used.costUsd : l.kind === 'calls' ? 1 : used.usage.inputTokens + used.usage.outputTokens);
        }
        return ledger.settle(id, actual);
      });
    },
  };
}
