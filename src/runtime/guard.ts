/**
 * The engine's guards (`createEngine({ guard })`) asked as one: in order, the first refusal
 * wins, a changed request or model is what the next guard sees, and their call watches are
 * combined. A guard that throws, rejects or answers nonsense refuses (fail-closed) with a
 * PolicyError `POLICY_FAILED`. Answers stay synchronous when every guard answers at once.
 * How one guard is asked is in `guard-walk.ts`, watches are combined in `guard-watch.ts`, and
 * the lazily priced call check is in `guard-call-check.ts`.
 * @module
 */
import { PolicyError } from '../errors.ts';
import type { CallCheck, CallVerdict, CallWatch, Guard, RunCheck, RunVerdict, ToolCheck, ToolVerdict } from '../definition/guard.ts';
import type { Logger } from '../logger.ts';
import { LazyCallCheck } from './guard-call-check.ts';
import { combineWatches } from './guard-watch.ts';
import { ALLOW, ask, invalid, isPromise, walk } from './guard-walk.ts';

export { lazyCallCheck } from './guard-call-check.ts';

type Ended = NonNullable<Extract<RunVerdict, { action: 'allow' }>['ended']>;

/**
 * The guards of one engine, asked as one.
 *
 * @example
 * ```ts
 * const guards = new Guards([policies, budgets], log);
 * const v = guards.call(check); // a CallVerdict, or a promise of one
 * ```
 */
export class Guards {
  readonly #list: readonly Guard[];
  readonly #runs: readonly Guard[];
  readonly #calls: readonly Guard[];
  readonly #tools: readonly Guard[];
  readonly #weights: readonly Guard[];
  readonly #log: Logger;

  constructor(list: readonly Guard[], log: Logger) {
    this.#list = list;
    this.#runs = list.filter((g) => typeof g.run === 'function');
    this.#calls = list.filter((g) => typeof g.call === 'function');
    this.#tools = list.filter((g) => typeof g.tool === 'function');
    this.#weights = list.filter((g) => typeof g.weight === 'function');
    this.#log = log;
  }

  /** Whether any guard checks runs. */
  get checksRuns(): boolean {
    return this.#runs.length > 0;
  }

  /** Whether any guard checks model calls. */
  get checksCalls(): boolean {
    return this.#calls.length > 0;
  }

  /** Whether any guard checks tool calls. */
  get checksTools(): boolean {
    return this.#tools.length > 0;
  }

  /** Asks every tool guard, threading rewritten arguments; the first refusal wins. */
  tool(check: ToolCheck): ToolVerdict | Promise<ToolVerdict> {
    let cur = check;
    let changed = false;
    let rule: string | undefined;
    const refuse = (e: PolicyError): ToolVerdict => ({ action: 'deny', rule: e.rule ?? 'guard', error: e });
    const take = (g: Guard, v: ToolVerdict | PolicyError): ToolVerdict | undefined => {
      if (v instanceof PolicyError) return refuse(v);
      if (v?.action === 'deny') return typeof v.rule === 'string' && v.error instanceof Error ? v : refuse(invalid(g, 'tool'));
      if (v?.action !== 'allow') return refuse(invalid(g, 'tool'));
      if (v.rule !== undefined) rule ??= v.rule;
      if (Object.hasOwn(v, 'args')) {
        cur = { ...cur, args: v.args };
        changed = true;
      }
      return undefined;
    };
    const done = (): ToolVerdict => {
      if (!changed) return rule === undefined ? ALLOW : { action: 'allow', rule };
      return rule === undefined ? { action: 'allow', args: cur.args } : { action: 'allow', rule, args: cur.args };
    };
    return walk(this.#tools, 0, (g) => ask(g, g.tool!, cur), take, done);
  }

  /** The guards' weight of a tenant (the first guard that weighs it; 1 when none does or it answers nonsense). */
  weight(tenant: string): number {
    for (const g of this.#weights) {
      try {
        const w = g.weight!(tenant);
        if (typeof w === 'number' && w > 0 && Number.isFinite(w)) return w;
      } catch (e) {
        this.#log.error({ err: e, tenant, guard: g.name }, 'a guard failed to weigh a tenant; weight 1');
      }
    }
    return 1;
  }

  /** Whether the list has any weighing guard. */
  get weighs(): boolean {
    return this.#weights.length > 0;
  }

  /** Asks every run guard; resolves synchronously when all answer at once. */
  run(check: RunCheck): RunVerdict | Promise<RunVerdict> {
    // the common case without a closure: every guard allows at once and holds nothing
    const runs = this.#runs;
    let rule: string | undefined;
    for (let k = 0; k < runs.length; k++) {
      const g = runs[k]!;
      const v = ask(g, g.run!, check);
      if (isPromise(v) || v instanceof PolicyError || v?.action !== 'allow' || v.ended !== undefined) return this.#runFrom(check, k, v, rule);
      if (v.rule !== undefined) rule ??= v.rule;
    }
    return rule === undefined ? ALLOW : { action: 'allow', rule };
  }

  /** The rest of {@link run} from guard `k`, whose answer was `first`. */
  #runFrom(check: RunCheck, k0: number, first: RunVerdict | Promise<RunVerdict> | PolicyError, rule0: string | undefined): RunVerdict | Promise<RunVerdict> {
    const ended: Ended[] = [];
    let rule = rule0;
    const refuse = (error: PolicyError | Extract<RunVerdict, { action: 'deny' }>): RunVerdict => {
      endAll('refused');
      return error instanceof PolicyError ? { action: 'deny', rule: error.rule ?? 'guard', error } : error;
    };
    const take = (g: Guard, v: RunVerdict | PolicyError): RunVerdict | undefined => {
      if (v instanceof PolicyError) return refuse(v);
      if (v?.action === 'deny' && typeof v.rule === 'string' && v.error instanceof Error) return refuse(v);
      if (v?.action !== 'allow') return refuse(invalid(g, 'run'));
      if (v.ended !== undefined) ended.push(v.ended);
      if (v.rule !== undefined) rule ??= v.rule;
      return undefined;
    };
    const endAll = (status: Parameters<Ended>[0]): void => {
      for (const f of ended.splice(0)) this.#safely(() => f(status), 'run end');
    };
    const done = (): RunVerdict => {
      if (ended.length === 0) return rule === undefined ? ALLOW : { action: 'allow', rule };
      const all = ended.slice();
      return { action: 'allow', rule, ended: (status) => { for (const f of all) this.#safely(() => f(status), 'run end'); } };
    };
    return walk(this.#runs, k0, (g) => ask(g, g.run!, check), take, done, first);
  }

  /** Asks every call guard, threading changed requests and models; combines their watches. */
  call(check: CallCheck): CallVerdict | Promise<CallVerdict> {
    // the common case without a closure: every guard allows at once, changes nothing and watches nothing
    const calls = this.#calls;
    let rule: string | undefined;
    for (let k = 0; k < calls.length; k++) {
      const g = calls[k]!;
      const v = ask(g, g.call!, check);
      if (isPromise(v) || v instanceof PolicyError || v?.action !== 'allow' || v.watch !== undefined || v.request !== undefined
        || (v.model !== undefined && v.model !== check.model)) return this.#callFrom(check, k, v, rule);
      if (v.rule !== undefined) rule ??= v.rule;
    }
    return rule === undefined ? ALLOW : { action: 'allow', rule };
  }

  /** The rest of {@link call} from guard `k`, whose answer was `first`. */
  #callFrom(check: CallCheck, k0: number, first: CallVerdict | Promise<CallVerdict> | PolicyError, rule0: string | undefined): CallVerdict | Promise<CallVerdict> {
    const watches: CallWatch[] = [];
    let cur = check;
    let changedRequest = false;
    let model: string | undefined;
    let rule = rule0;
    const refuse = (v: PolicyError | Exclude<CallVerdict, { action: 'allow' }>): CallVerdict => {
      // what earlier guards hold for this call (reservations) is released: the call never happens
      for (const w of watches) if (w.ended !== undefined) this.#safely(() => w.ended!(undefined), 'call end');
      return v instanceof PolicyError ? { action: 'deny', rule: v.rule ?? 'guard', error: v } : v;
    };
    const take = (g: Guard, v: CallVerdict | PolicyError): CallVerdict | undefined => {
      if (v instanceof PolicyError) return refuse(v);
      switch (v?.action) {
        case 'deny':
          return typeof v.rule === 'string' && v.error instanceof Error ? refuse(v) : refuse(invalid(g, 'call'));
        case 'approval':
          return typeof v.rule === 'string' && typeof v.wait?.name === 'string' && v.wait.name !== '' ? refuse(v) : refuse(invalid(g, 'call'));
        case 'allow':
          break;
        default:
          return refuse(invalid(g, 'call'));
      }
      if (v.rule !== undefined) rule ??= v.rule;
      if (v.watch !== undefined) watches.push(v.watch);
      if (v.request !== undefined || (v.model !== undefined && v.model !== cur.model)) {
        // what the next guard sees: the changed request or model, priced again (lazily) for its budget
        if (v.request !== undefined) changedRequest = true;
        if (v.model !== undefined && v.model !== cur.model) model = v.model;
        cur = new LazyCallCheck(cur, cur, model ?? cur.model, v.request ?? cur.request);
      }
      return undefined;
    };
    const done = (): CallVerdict => {
      if (watches.length === 0 && !changedRequest && model === undefined) return rule === undefined ? ALLOW : { action: 'allow', rule };
      const out: { -readonly [K in keyof Extract<CallVerdict, { action: 'allow' }>]: Extract<CallVerdict, { action: 'allow' }>[K] } = { action: 'allow' };
      if (rule !== undefined) out.rule = rule;
      if (changedRequest) out.request = cur.request;
      if (model !== undefined) out.model = model;
      if (watches.length > 0) out.watch = watches.length === 1 ? watches[0]! : combineWatches(watches, (f, what) => this.#safely(f, what));
      return out;
    };
    return walk(this.#calls, k0, (g) => ask(g, g.call!, cur), take, done, first);
  }

  /** Runs a guard's callback whose failure cannot refuse anything any more (the run or call has ended): logged as an error. */
  #safely(f: () => void, what: string): void {
    try {
      f();
    } catch (e) {
      this.#log.error({ err: e }, `a guard failed on ${what}`);
    }
  }

  /** How many guards. */
  get size(): number {
    return this.#list.length;
  }
}
