/**
 * Usage accounting: each model call's tokens and cost are added to the node
 * that made it, its run, every ancestor run (and the node that started the
 * child run), the engine's totals and the top run's tenant.
 * @module
 */
import type { Usage, UsageTotals } from '../providers/types.ts';
import type { Run } from './run.ts';
import { addUsage, zeroTotals, type Totals } from './totals.ts';

/**
 * The usage totals of one engine.
 *
 * @example
 * ```ts
 * const book = new UsageBook();
 * book.account(run, node, usage, 0.002);
 * book.totals('acme').costUsd; // 0.002
 * ```
 */
export class UsageBook {
  readonly #all = zeroTotals();
  readonly #byTenant = new Map<string, Totals>();

  /** Adds one model call of node `node` of `run`. */
  account(run: Run, node: number, usage: Usage, costUsd: number): void {
    let r: Run | undefined = run;
    let n = node;
    let top: Run = run;
    for (; r !== undefined; n = r.parentNode, r = r.parent) {
      addUsage(((r.nodeUsage ??= [])[n] ??= zeroTotals()), usage, costUsd);
      addUsage((r.usage ??= zeroTotals()), usage, costUsd);
      top = r;
    }
    addUsage(this.#all, usage, costUsd);
    if (top.tenant !== undefined) {
      let t = this.#byTenant.get(top.tenant);
      if (t === undefined) this.#byTenant.set(top.tenant, (t = zeroTotals()));
      addUsage(t, usage, costUsd);
    }
  }

  /** A copy of the totals of a tenant, or of the whole engine. */
  totals(tenant?: string): Readonly<UsageTotals> {
    return { ...(tenant === undefined ? this.#all : this.#byTenant.get(tenant) ?? zeroTotals()) };
  }
}
