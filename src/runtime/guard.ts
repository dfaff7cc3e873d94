/**
 * The engine's guards (`createEngine({ guard })`) asked as one: in order, the first refusal
 * wins, a changed request or model is what the next guard sees, and their call watches are
 * combined. A guard that throws, rejects or answers nonsense refuses (fail-closed) with a
 * PolicyError `POLICY_FAILED`. Answers stay synchronous when every guard answers at once.
 * @module
 */
import { PolicyError } from '../errors.ts';
import type { CallCheck, CallEstimate, CallVerdict, CallWatch, Guard, GuardSubject, OutputVerdict, RunCheck, RunVerdict, ToolCheck, ToolVerdict } from '../definition/guard.ts';
import type { Logger } from '../logger.ts';
import type { CompletionRequest, Usage } from '../providers/types.ts';

type Ended = NonNullable<Extract<RunVerdict, { action: 'allow' }>['ended']>;

/** What one guard of the list answered, or the error it threw. */
function ask<C, V>(g: Guard, fn: (check: C) => V | Promise<V>, check: C): V | Promise<V> | PolicyError {
  try {
    return fn.call(g, check);
  } catch (e) {
    return failed(g, e);
  }
}

function failed(g: Guard, e: unknown): PolicyError {
  const name = g.name ?? 'guard';
  return new PolicyError('POLICY_FAILED', `${name} failed while checking (refused: fail-closed): ${e instanceof Error ? e.message : String(e)}`, { rule: name, cause: e });
}

function invalid(g: Guard, what: string): PolicyError {
  const name = g.name ?? 'guard';
  return new PolicyError('POLICY_FAILED', `${name} answered an invalid ${what} verdict (refused: fail-closed)`, { rule: name });
}

const isPromise = <T>(v: unknown): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';

/** No answer given ahead (see {@link walk}). */
const NOT_ASKED: unique symbol = Symbol('not asked');

/**
 * Asks `guards` from index `k` on, in order: `askOf` asks one, `take` judges its answer (a
 * verdict it returns stops the walk: a refusal), `done` answers once every guard allowed.
 * Synchronous while every guard answers at once. `first` is guard `k`'s answer when the caller
 * has asked it already.
 */
function walk<V>(
  guards: readonly Guard[], k: number, askOf: (g: Guard) => V | Promise<V> | PolicyError,
  take: (g: Guard, v: V | PolicyError) => V | undefined, done: () => V, first: V | Promise<V> | PolicyError | typeof NOT_ASKED = NOT_ASKED,
): V | Promise<V> {
  for (; k < guards.length; k++) {
    const g = guards[k]!;
    const v = first === NOT_ASKED ? askOf(g) : first;
    first = NOT_ASKED;
    if (isPromise<V>(v)) {
      const next = k + 1;
      return v.then((r) => take(g, r) ?? walk(guards, next, askOf, take, done), (e: unknown) => take(g, failed(g, e))!);
    }
    const stop = take(g, v);
    if (stop !== undefined) return stop;
  }
  return done();
}

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
      if (watches.length > 0) out.watch = watches.length === 1 ? watches[0]! : this.#combine(watches);
      return out;
    };
    return walk(this.#calls, k0, (g) => ask(g, g.call!, cur), take, done, first);
  }

  /** One watch for several: the first cut wins, every `ended` is told, outputs are checked in order. */
  #combine(watches: readonly CallWatch[]): CallWatch {
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
      watch.ended = (used?: { readonly usage: Usage; readonly costUsd: number }) => {
        for (const w of enders) this.#safely(() => w.ended!(used), 'call end');
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

const ALLOW = { action: 'allow' } as const;

/** The estimate of a call on a model the catalogue cannot price. */
const NO_ESTIMATE: CallEstimate = Object.freeze({ inputTokens: 0, outputTokens: 0, costUsd: 0 });

/**
 * A call check of one fixed shape (every field set, `undefined` when absent) whose `estimate`
 * is computed on first read with `estimateOn`: tokenizing a long prompt costs tens of µs, and
 * most guards never read it. A spread copies the fields, never the estimate.
 */
class LazyCallCheck implements CallCheck {
  readonly runId: string;
  readonly topology: string;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  readonly project: string | undefined;
  readonly variant: string | undefined;
  readonly nodeId: string;
  readonly model: string;
  readonly provider: string;
  readonly request: CompletionRequest;
  readonly attempt: number;
  readonly approved: Readonly<Record<string, unknown>> | undefined;
  readonly estimateOn: CallCheck['estimateOn'];
  #estimate: CallEstimate | undefined = undefined;

  constructor(s: GuardSubject, c: CallFields, model: string, request: CompletionRequest) {
    this.runId = s.runId;
    this.topology = s.topology;
    this.tenant = s.tenant;
    this.user = s.user;
    this.project = s.project;
    this.variant = s.variant;
    this.nodeId = c.nodeId;
    this.model = model;
    this.provider = c.provider;
    this.request = request;
    this.attempt = c.attempt;
    this.approved = c.approved;
    this.estimateOn = c.estimateOn;
  }

  get estimate(): CallEstimate {
    return (this.#estimate ??= this.estimateOn(this.model, this.request) ?? NO_ESTIMATE);
  }
}

/** What a call check holds besides its subject and estimate. */
type CallFields = Omit<CallCheck, keyof GuardSubject | 'estimate'>;

/**
 * The check of a call about `subject`'s run, with its `estimate` priced on first read.
 *
 * @example
 * ```ts
 * const check = lazyCallCheck(subject, { nodeId: 'answer', model: 'openai:gpt-4o', provider: 'openai', request, attempt: 1, estimateOn });
 * check.estimate.costUsd; // priced now, once
 * ```
 */
export function lazyCallCheck(subject: GuardSubject, call: CallFields): CallCheck {
  return new LazyCallCheck(subject, call, call.model, call.request);
}

