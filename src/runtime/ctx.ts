/**
 * What a node's function receives: a small object per node execution whose
 * fields (`deps`, `signal`, ...) are computed on first read.
 * @module
 */
import { EMPTY, type Observable, of } from 'rxjs';
import { serializeError } from '../errors.ts';
import type { NodeContext, Priority, StreamChunk } from '../definition/types.ts';
import type { Unlisten } from '../primitives/abort.ts';
import type { Run } from './run.ts';
import { DONE, FAILED, PRIORITIES } from './states.ts';

const NO_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * The context of one execution of node `node` in `run`. Made by the executor;
 * operators hand this same object back to the engine's services.
 *
 * @example
 * ```ts
 * const ctx = new NodeCtx(run, i, plan.nodes[i].config);
 * const value = plan.nodes[i].execute(ctx, services);
 * ```
 */
export class NodeCtx implements NodeContext {
  readonly run: Run;
  readonly node: number;
  readonly config: Readonly<Record<string, unknown>>;
  /** Node-level controller, present only when the node has a timeout or streaming consumers. */
  ctl: AbortController | undefined = undefined;
  /** The node's outcome was taken (output, failure or timeout); later settlements are ignored. */
  settled = false;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  unlink: Unlisten | undefined = undefined;
  private depsCache: Record<string, unknown> | undefined = undefined;

  constructor(run: Run, node: number, config: Readonly<Record<string, unknown>> | undefined) {
    this.run = run;
    this.node = node;
    this.config = config ?? NO_CONFIG;
  }
  tokens(nodeId: string): Observable<StreamChunk> {
    const run = this.run;
    const p = this.#producer(nodeId);
    const ch = run.channels?.[p];
    if (ch !== undefined) return ch.subject.asObservable();
    // a producer that already finished (e.g. resumed): its whole text as one token
    const out = run.outputs[p];
    if (run.state[p] === DONE && typeof out === 'object' && out !== null && 'text' in out && typeof out.text === 'string') {
      return of({ kind: 'token', index: 0, text: out.text });
    }
    return EMPTY;
  }
  stop(nodeId: string, reason = 'stopped by a streaming consumer'): void {
    this.run.channels?.[this.#producer(nodeId)]?.stop(reason);
  }
  get input(): unknown {
    return this.run.input;
  }
  get deps(): Record<string, unknown> {
    return (this.depsCache ??= this.#buildDeps());
  }
  get signal(): AbortSignal {
    return this.ctl !== undefined ? this.ctl.signal : this.run.signal;
  }
  get runId(): string {
    return this.run.id;
  }
  get nodeId(): string {
    return this.run.plan.ids[this.node]!;
  }
  get idempotencyKey(): string {
    return `${this.run.id}:${this.run.plan.ids[this.node]!}`;
  }
  get priority(): Priority {
    return PRIORITIES[this.run.level]!;
  }
  get variant(): string | undefined {
    return this.run.decision?.variant;
  }

  /** Index of the node this one streams from; a programming error (thrown) when `from` is not it. */
  #producer(from: string): number {
    const plan = this.run.plan;
    const def = plan.nodes[this.node]!;
    if (def.streamFrom !== from) throw new Error(`node '${def.id}' does not stream from '${from}' (declare streamFrom: '${from}')`);
    return plan.indexOf(from)!;
  }

  #buildDeps(): Record<string, unknown> {
    const run = this.run;
    const plan = run.plan;
    const deps: Record<string, unknown> = {};
    const idx = plan.depIdx[this.node]!;
    for (let k = 0; k < idx.length; k++) {
      const p = idx[k]!;
      const st = run.state[p];
      if (st === DONE) deps[plan.ids[p]!] = run.outputs[p];
      // a failed parent is visible only to its onError target, as the error
      else if (st === FAILED && plan.nodes[p]!.onError === plan.ids[this.node]) deps[plan.ids[p]!] = serializeError(run.errors![p]);
    }
    return deps;
  }
}
