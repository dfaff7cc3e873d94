/**
 * The per-run envelope that flows through a compiled topology's stages, and the
 * context object a node's function receives. Small by design: a few arrays sized
 * by the node count, a numeric trace, and an AbortController made only when
 * someone asks for the signal.
 * @module
 */
import type { Observable, ReplaySubject } from 'rxjs';
import type { OrchestratorError } from '../errors.ts';
import type { NodeContext, Priority, StreamChunk } from '../definition/types.ts';
import type { Usage, UsageTotals } from '../providers/types.ts';
import type { Level } from '../primitives/limiter.ts';

/** Node states (low bits of `Run.state[i]`). */
export const WAITING = 0;
export const RUNNING = 1;
export const DONE = 2;
export const SKIPPED = 3;
export const FAILED = 4;
/** Set by `resume` on nodes whose state comes from a previous attempt. */
export const RESUMING = 5;

/** Marks on `Run.mark[i]`: whether some parent edge was taken or not. */
export const ACTIVE_PARENT = 1;
export const INACTIVE_PARENT = 2;

/** Run status. */
export const R_RUNNING = 0;
export const R_COMPLETED = 1;
export const R_FAILED = 2;
export const R_CANCELLED = 3;

export const LEVELS: Readonly<Record<Priority, Level>> = { high: 0, normal: 1, low: 2 };
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

/** Static topology facts a run needs (implemented by the compiled topology). */
export interface RunShape {
  readonly name: string;
  readonly ids: readonly string[];
  readonly pendingTemplate: readonly number[];
  readonly zeros: readonly number[];
  readonly empty: readonly undefined[];
}

/** Totals being added up (the mutable form of {@link UsageTotals}). */
export type Totals = { -readonly [K in keyof UsageTotals]: UsageTotals[K] };

/** Fresh zero totals. */
export function zeroTotals(): Totals {
  return { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 };
}

/** Adds a usage to totals. */
export function addUsage(t: Totals, u: Usage, costUsd: number, calls = 1): void {
  t.inputTokens += u.inputTokens;
  t.outputTokens += u.outputTokens;
  t.cachedTokens += u.cachedTokens;
  t.reasoningTokens += u.reasoningTokens;
  t.costUsd += costUsd;
  t.calls += calls;
}

/** The live token stream of a producing node within one run. */
export interface Channel {
  readonly subject: ReplaySubject<StreamChunk>;
  /** Aborts the producer (for `ctx.stop`). */
  readonly stop: (reason: string) => void;
}

/** One run of a topology. */
export class Run {
  readonly id: string;
  readonly shape: RunShape;
  input: unknown;
  readonly level: Level;
  readonly parent: Run | undefined;
  /** For a child run: the index of the parent's node that started it. */
  parentNode = -1;
  /** For a single-node run (a remote worker executing one node): that node's index. */
  single = -1;
  readonly outputs: unknown[];
  readonly state: number[];
  readonly mark: number[];
  readonly pending: number[];
  errors: unknown[] | undefined = undefined;
  remaining: number;
  status = R_RUNNING;
  error: OrchestratorError | undefined = undefined;
  ctl: AbortController | undefined = undefined;
  /** Absolute deadline in epoch ms; Infinity for none. */
  deadline: number;
  /** Two numbers per event: `code | nodeIndex << 4`, timestamp. */
  readonly trace: number[] = [];
  startedAt: number;
  endedAt = 0;
  admitted = false;
  /** Node outputs carried over from an earlier attempt, applied when the run is admitted. */
  resume: { readonly outputs: Readonly<Record<string, unknown>>; readonly skipped: readonly string[] } | undefined = undefined;
  /** Token streams of producing nodes with streaming consumers (by node index). */
  channels: (Channel | undefined)[] | undefined = undefined;
  /** Usage of the whole run (including child runs), and per node. */
  usage: Totals | undefined = undefined;
  nodeUsage: (Totals | undefined)[] | undefined = undefined;
  tenant: string | undefined = undefined;
  /** Payloads of trace entries that carry data beyond the node (retries, fallbacks, compensation errors), by seq. */
  notes: Map<number, unknown> | undefined = undefined;
  /** Retries left for the whole run (set on first use). */
  budget: { remaining: number } | undefined = undefined;
  /** Undoes listeners and timers the run set up; called once when it ends. */
  cleanup: (() => void) | undefined = undefined;
  readonly onEnd: (run: Run) => void;

  constructor(id: string, shape: RunShape, input: unknown, level: Level, deadline: number, parent: Run | undefined, onEnd: (run: Run) => void) {
    this.id = id;
    this.shape = shape;
    this.input = input;
    this.level = level;
    this.deadline = deadline;
    this.parent = parent;
    this.onEnd = onEnd;
    this.outputs = shape.empty.slice();
    this.state = shape.zeros.slice();
    this.mark = shape.zeros.slice();
    this.pending = shape.pendingTemplate.slice();
    this.remaining = shape.ids.length;
    this.startedAt = Date.now();
  }

  /** The run's AbortSignal, created on first use. */
  get signal(): AbortSignal {
    return (this.ctl ??= new AbortController()).signal;
  }
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** What a node context needs from its compiled topology. */
export interface CtxHost {
  buildDeps(run: Run, node: number): Record<string, unknown>;
  tokensOf(run: Run, node: number, from: string): Observable<StreamChunk>;
  stopProducer(run: Run, node: number, from: string, reason: string): void;
}

/** What a node's function receives; fields are computed on first read. */
export class NodeCtx implements NodeContext {
  readonly run: Run;
  readonly node: number;
  readonly config: Readonly<Record<string, unknown>>;
  /** Node-level controller, present only when the node has a timeout. */
  ctl: AbortController | undefined = undefined;
  settled = false;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  unlink: (() => void) | undefined = undefined;
  private depsCache: Record<string, unknown> | undefined = undefined;
  private readonly host: CtxHost;

  constructor(run: Run, node: number, config: Readonly<Record<string, unknown>> | undefined, host: CtxHost) {
    this.run = run;
    this.node = node;
    this.config = config ?? EMPTY;
    this.host = host;
  }
  tokens(nodeId: string): Observable<StreamChunk> {
    return this.host.tokensOf(this.run, this.node, nodeId);
  }
  stop(nodeId: string, reason = 'stopped by a streaming consumer'): void {
    this.host.stopProducer(this.run, this.node, nodeId, reason);
  }
  get input(): unknown {
    return this.run.input;
  }
  get deps(): Record<string, unknown> {
    return (this.depsCache ??= this.host.buildDeps(this.run, this.node));
  }
  get signal(): AbortSignal {
    return this.ctl !== undefined ? this.ctl.signal : this.run.signal;
  }
  get runId(): string {
    return this.run.id;
  }
  get nodeId(): string {
    return this.run.shape.ids[this.node]!;
  }
  get priority(): Priority {
    return PRIORITIES[this.run.level]!;
  }
}
