/**
 * The summary of an ended run a feedback loop hears (`RunLoop.ended`): made once per
 * run, only for an engine with a loop.
 * @module
 */
import { serializeError, type SerializedError } from '../errors.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { RunSummary } from './loop.ts';
import type { Run } from './run.ts';
import { DONE, R_CANCELLED, R_COMPLETED } from './states.ts';
import { topologyVersion } from './version.ts';

/**
 * Models of runs without fallbacks whose llm nodes all completed: the same answer for every
 * run of one plan with the same overrides object (a loop's decisions share theirs), made once.
 */
const shared = new WeakMap<object, WeakMap<object, Readonly<Record<string, string>>>>();

/**
 * The llm nodes of a run that completed, by node id: the model that answered (the last
 * fallback's target, else the run's override, else the node's first model). Frozen: runs of
 * one plan and overrides that all answered without a fallback share one record.
 *
 * @example
 * ```ts
 * modelsOf(run); // { answer: 'sim:default' }
 * ```
 */
export function modelsOf(run: Run): Readonly<Record<string, string>> {
  const plan = run.plan;
  let usual = !hasFallback(run);
  for (let i = 0; usual && i < plan.nodes.length; i++) if (plan.nodes[i]!.kind === 'llm' && run.state[i] !== DONE) usual = false;
  if (!usual) return Object.freeze(answered(run));
  let byOverrides = shared.get(plan);
  if (byOverrides === undefined) shared.set(plan, (byOverrides = new WeakMap()));
  const key = run.overrides ?? plan;
  let models = byOverrides.get(key);
  if (models === undefined) byOverrides.set(key, (models = Object.freeze(answered(run))));
  return models;
}

function hasFallback(run: Run): boolean {
  if (run.notes === undefined) return false;
  for (const note of run.notes.values()) if (note.type === 'fallback') return true;
  return false;
}

function answered(run: Run): Record<string, string> {
  const out: Record<string, string> = {};
  const plan = run.plan;
  for (let i = 0; i < plan.nodes.length; i++) {
    const node = plan.nodes[i]!;
    if (node.kind !== 'llm' || run.state[i] !== DONE) continue;
    const o = run.overrides?.[plan.ids[i]!]?.model;
    const first = o === undefined ? node.models?.[0] : typeof o === 'string' ? o : o[0];
    if (first !== undefined) out[plan.ids[i]!] = first;
  }
  // fallbacks, in trace order: the last one of a node is the model that answered
  run.notes?.forEach((note, idx) => {
    if (note.type !== 'fallback') return;
    const i = run.trace[idx * 2]! >> 4;
    if (run.state[i] === DONE) out[plan.ids[i]!] = note.to;
  });
  return out;
}

/**
 * An ended run's summary: plain fields copied once, the rest (models, outputs, error, usage)
 * computed on first read, so a loop that only joins feedback pays for no more.
 */
class Summary implements RunSummary {
  readonly runId: string;
  readonly topology: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly input: unknown;
  readonly output: unknown;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly decision: RunSummary['decision'];
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  readonly costUsd: number;
  readonly #run: Run;
  #models: Readonly<Record<string, string>> | undefined;
  #outputs: Record<string, unknown> | undefined;

  constructor(run: Run) {
    this.#run = run;
    this.runId = run.id;
    this.topology = run.plan.name;
    this.status = run.status === R_COMPLETED ? 'completed' : run.status === R_CANCELLED ? 'cancelled' : 'failed';
    this.input = run.input;
    this.output = run.output;
    this.startedAt = run.startedAt;
    this.endedAt = run.endedAt;
    this.decision = run.decision;
    this.tenant = run.tenant;
    this.user = run.user;
    this.costUsd = run.usage?.costUsd ?? 0;
  }
  get version(): string {
    return topologyVersion(this.#run.plan.topology);
  }
  get models(): Readonly<Record<string, string>> {
    return (this.#models ??= modelsOf(this.#run));
  }
  get error(): SerializedError | undefined {
    return this.#run.error === undefined ? undefined : serializeError(this.#run.error);
  }
  get usage(): UsageTotals | undefined {
    return this.#run.usage === undefined ? undefined : { ...this.#run.usage };
  }
  get outputs(): Record<string, unknown> {
    if (this.#outputs === undefined) {
      const o: Record<string, unknown> = {};
      const run = this.#run;
      const ids = run.plan.ids;
      for (let i = 0; i < ids.length; i++) if (run.state[i] === DONE) o[ids[i]!] = run.outputs[i];
      this.#outputs = o;
    }
    return this.#outputs;
  }
  toJSON(): unknown {
    return {
      runId: this.runId, topology: this.topology, version: this.version, status: this.status, input: this.input, output: this.output,
      error: this.error, startedAt: this.startedAt, endedAt: this.endedAt, usage: this.usage, decision: this.decision,
      models: this.models, tenant: this.tenant, user: this.user,
    };
  }
}

/**
 * Summarizes an ended top-level run (fields beyond the run's own are computed on first read).
 *
 * @example
 * ```ts
 * loop.ended(summaryOf(run));
 * ```
 */
export function summaryOf(run: Run): RunSummary {
  return new Summary(run);
}
