/**
 * Usage accounting: each model call's tokens and cost are added to the node that made it, its
 * run, every ancestor run (and the node that started the child run), the engine's totals, the
 * top run's tenant, and the call's attribution tuple (tenant, user, project, topology, node,
 * model, variant), which `engine.usage(filter)` and `engine.usageBy(dims)` read.
 *
 * Memory: one row per distinct tuple. Tuples are few in practice (tenants x users x projects x
 * the nodes and models they use), but user ids come from callers, so the book holds at most
 * `maxTuples` rows (default {@link DEFAULT_MAX_TUPLES}, about 300 bytes each); calls of any
 * further tuple are added to one overflow row whose every dimension is {@link USAGE_OVERFLOW}
 * (it shows up in `usageBy`, so nothing is lost silently). The engine and tenant totals stay exact.
 * @module
 */
import * as z from 'zod';
import type { Usage, UsageTotals } from '../providers/types.ts';
import { parseOptions } from './options.ts';
import type { Run } from './run.ts';
import { addUsage, zeroTotals, type Totals } from './totals.ts';

/**
 * The dimensions cost is attributed by.
 *
 * @example
 * ```ts
 * const dims: UsageDim[] = ['tenant', 'model'];
 * ```
 */
export type UsageDim = 'tenant' | 'user' | 'project' | 'topology' | 'node' | 'model' | 'variant';

/**
 * Every {@link UsageDim}, in tuple order.
 *
 * @example
 * ```ts
 * USAGE_DIMS.includes('model'); // true
 * ```
 */
export const USAGE_DIMS: readonly UsageDim[] = ['tenant', 'user', 'project', 'topology', 'node', 'model', 'variant'];

/**
 * The value of every dimension of the overflow row (calls of tuples beyond the book's bound).
 *
 * @example
 * ```ts
 * engine.usageBy(['tenant']).find((r) => r.by.tenant === USAGE_OVERFLOW);
 * ```
 */
export const USAGE_OVERFLOW = '(overflow)';

/**
 * Tuples the usage book keeps apart at most, by default.
 *
 * @example
 * ```ts
 * new UsageBook(DEFAULT_MAX_TUPLES);
 * ```
 */
export const DEFAULT_MAX_TUPLES = 100_000;

const dimValue = z.string().min(1).nullable().optional();

/**
 * zod schema of {@link UsageFilter}: each field a value the dimension must have, `null` for
 * "not set" (a run without user), absent for "any".
 *
 * @example
 * ```ts
 * UsageFilterSchema.parse({ tenant: 'acme', user: null });
 * ```
 */
export const UsageFilterSchema = z.strictObject({
  tenant: dimValue,
  user: dimValue,
  project: dimValue,
  topology: dimValue,
  node: dimValue,
  model: dimValue,
  variant: dimValue,
});

/**
 * Which tuples `engine.usage(filter)` and `engine.usageBy(dims, filter)` total (see {@link UsageFilterSchema}).
 *
 * @example
 * ```ts
 * const f: UsageFilter = { tenant: 'acme', model: 'openai:gpt-4o' };
 * ```
 */
export type UsageFilter = Readonly<z.input<typeof UsageFilterSchema>>;

/**
 * zod schema of the `dims` of `engine.usageBy`: at least one dimension, each once.
 *
 * @example
 * ```ts
 * UsageDimsSchema.parse(['tenant', 'model']);
 * ```
 */
export const UsageDimsSchema = z
  .array(z.enum(['tenant', 'user', 'project', 'topology', 'node', 'model', 'variant']))
  .min(1)
  .refine((d) => new Set(d).size === d.length, 'each dimension at most once');

/**
 * One row of `engine.usageBy(dims)`: the values of the grouped dimensions (`null` when not set)
 * and the totals of every tuple with those values.
 *
 * @example
 * ```ts
 * for (const r of engine.usageBy(['tenant', 'model'])) console.log(r.by.tenant, r.by.model, r.totals.costUsd);
 * ```
 */
export interface UsageRow {
  readonly by: Readonly<Partial<Record<UsageDim, string | null>>>;
  readonly totals: Readonly<UsageTotals>;
}

/** One attribution tuple and its totals. */
interface Tuple {
  readonly values: readonly (string | undefined)[];
  readonly totals: Totals;
}

/**
 * The usage totals of one engine.
 *
 * @example
 * ```ts
 * const book = new UsageBook();
 * book.account(run, 0, 'answer', usage, 0.002, 'openai:gpt-4o');
 * book.totals('acme').costUsd; // 0.002
 * book.usageBy(['model'])[0]?.by.model; // 'openai:gpt-4o'
 * ```
 */
export class UsageBook {
  readonly #all = zeroTotals();
  readonly #byTenant = new Map<string, Totals>();
  readonly #tuples = new Map<string, Tuple>();
  readonly #maxTuples: number;
  #overflow: Tuple | undefined = undefined;

  /** `maxTuples`: rows kept apart at most (see the module doc). */
  constructor(maxTuples = DEFAULT_MAX_TUPLES) {
    this.#maxTuples = maxTuples;
  }

  /** Adds one model call of node `node` (id `nodeId`) of `run`, served by `model` ('provider:model'). */
  account(run: Run, node: number, nodeId: string, usage: Usage, costUsd: number, model?: string): void {
    let r: Run | undefined = run;
    let n = node;
    let top: Run = run;
    for (; r !== undefined; n = r.parentNode, r = r.parent) {
      addUsage(((r.nodeUsage ??= [])[n] ??= zeroTotals()), usage, costUsd);
      addUsage((r.usage ??= zeroTotals()), usage, costUsd);
      top = r;
    }
    addUsage(this.#all, usage, costUsd);
    const tenant = top.tenant;
    if (tenant !== undefined) {
      let t = this.#byTenant.get(tenant);
      if (t === undefined) this.#byTenant.set(tenant, (t = zeroTotals()));
      addUsage(t, usage, costUsd);
    }
    // child runs inherit tenant, user, project and decision; topology and node are where the call was made
    const user = top.user;
    const project = top.project;
    const topology = run.plan.name;
    const variant = top.decision?.variant;
    const key = `${tenant ?? ''}\u0000${user ?? ''}\u0000${project ?? ''}\u0000${topology}\u0000${nodeId}\u0000${model ?? ''}\u0000${variant ?? ''}\u0000${tenant === undefined ? 0 : 1}${user === undefined ? 0 : 1}${project === undefined ? 0 : 1}${model === undefined ? 0 : 1}${variant === undefined ? 0 : 1}`;
    let tuple = this.#tuples.get(key);
    if (tuple === undefined) {
      if (this.#tuples.size < this.#maxTuples) {
        tuple = { values: [tenant, user, project, topology, nodeId, model, variant], totals: zeroTotals() };
        this.#tuples.set(key, tuple);
      } else {
        tuple = this.#overflow ??= { values: USAGE_DIMS.map(() => USAGE_OVERFLOW), totals: zeroTotals() };
      }
    }
    addUsage(tuple.totals, usage, costUsd);
  }

  /** A copy of the totals of a tenant, or of the whole engine. */
  totals(tenant?: string): Readonly<UsageTotals> {
    return { ...(tenant === undefined ? this.#all : this.#byTenant.get(tenant) ?? zeroTotals()) };
  }

  /** The totals of every tuple matching `filter` (validated; `OPTIONS_INVALID` names the field). */
  matching(filter: UsageFilter): Readonly<UsageTotals> {
    const f = compile(parseOptions(UsageFilterSchema, filter, 'usage filter'));
    const out = zeroTotals();
    for (const t of this.#rows()) if (matches(t, f)) addTotalsOf(out, t.totals);
    return out;
  }

  /** Rows grouped by `dims` over the tuples matching `filter`, most costly first (ties: by values). */
  usageBy(dims: readonly UsageDim[], filter: UsageFilter = {}): UsageRow[] {
    const d = parseOptions(UsageDimsSchema, dims, 'usageBy dims');
    const f = compile(parseOptions(UsageFilterSchema, filter, 'usageBy filter'));
    const idx = d.map((dim) => USAGE_DIMS.indexOf(dim));
    const groups = new Map<string, { by: Partial<Record<UsageDim, string | null>>; totals: Totals }>();
    for (const t of this.#rows()) {
      if (!matches(t, f)) continue;
      const values = idx.map((i) => t.values[i] ?? null);
      const key = JSON.stringify(values);
      let g = groups.get(key);
      if (g === undefined) {
        const by: Partial<Record<UsageDim, string | null>> = {};
        d.forEach((dim, j) => { by[dim] = values[j] ?? null; });
        groups.set(key, (g = { by, totals: zeroTotals() }));
      }
      addTotalsOf(g.totals, t.totals);
    }
    return [...groups.entries()]
      .sort(([ka, a], [kb, b]) => b.totals.costUsd - a.totals.costUsd || (ka < kb ? -1 : ka > kb ? 1 : 0))
      .map(([, g]) => ({ by: g.by, totals: g.totals }));
  }

  *#rows(): Iterable<Tuple> {
    yield* this.#tuples.values();
    if (this.#overflow !== undefined) yield this.#overflow;
  }
}

/** Per tuple position: the value wanted (`null`: not set), or `false` for any. */
type Compiled = readonly (string | null | false)[];

function compile(filter: z.output<typeof UsageFilterSchema>): Compiled {
  return USAGE_DIMS.map((dim) => (filter[dim] === undefined ? false : filter[dim]));
}

function matches(t: Tuple, f: Compiled): boolean {
  for (let i = 0; i < f.length; i++) {
    const want = f[i];
    if (want === false) continue;
    if ((t.values[i] ?? null) !== want) return false;
  }
  return true;
}

function addTotalsOf(t: Totals, u: UsageTotals): void {
  addUsage(t, u, u.costUsd, u.calls);
}
