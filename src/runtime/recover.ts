/**
 * Recovery of stored runs: what a run's folded log says to resume (outputs of
 * completed nodes, skipped nodes, llm calls cut mid-stream), and the report of
 * `engine.recover()`.
 * @module
 */
import type { Observable } from 'rxjs';
import type { StoreError } from '../errors.ts';
import type { FoldedRun } from './fold.ts';
import type { Plan, Resume } from './plan.ts';
import type { RunResult } from './result.ts';

/**
 * What a recovered run resumes with.
 *
 * @example
 * ```ts
 * const { resume, cut } = resumeOf(plan, foldRun(await store.history(runId)));
 * ```
 */
export interface Resumption {
  readonly resume: Resume;
  /** Indices of llm nodes that were running at the crash (their call was cut): they start again with a restart marker. */
  readonly cut: readonly number[];
}

/**
 * The resume of a folded run: every completed node whose parents are all resumed
 * keeps its output, every skipped one stays skipped; everything else (running at the
 * crash, failed and handled by `onError`, never started) runs again. Walks the graph
 * in topological order, so a node is resumed only with its whole upstream.
 *
 * @example
 * ```ts
 * engine.run(t, input, { runId, resume: resumeOf(plan, state).resume });
 * ```
 */
export function resumeOf(plan: Plan, state: FoldedRun): Resumption {
  const outputs: Record<string, unknown> = {};
  const skipped: string[] = [];
  const kept = new Set<number>();
  const cut: number[] = [];
  for (const i of plan.graph.order!) {
    const id = plan.ids[i]!;
    const n = state.nodes[id];
    if (n === undefined) continue;
    if (n.status === 'running' && plan.nodes[i]!.kind === 'llm') cut.push(i);
    if (n.status !== 'completed' && n.status !== 'skipped') continue;
    if (!plan.graph.in[i]!.every((e) => kept.has(e.from))) continue;
    kept.add(i);
    if (n.status === 'completed') outputs[id] = n.output;
    else skipped.push(id);
  }
  return { resume: { outputs, skipped }, cut };
}

/**
 * The nodes a run's log names that `plan` does not have: a definition that resumes another
 * version (`resumes`), or keeps its own `version` across a change, cannot resume a run that
 * got to a node it dropped or renamed.
 *
 * @example
 * ```ts
 * if (foreignNodes(plan, state).length > 0) throw new StoreError('TOPOLOGY_CHANGED', foreignNodesMessage(runId, topology, recorded, version, foreign));
 * ```
 */
export function foreignNodes(plan: Plan, state: FoldedRun): string[] {
  return Object.keys(state.nodes).filter((id) => plan.indexOf(id) === undefined);
}

/**
 * Why a stored run cannot resume under a definition that lacks nodes of its log (see {@link foreignNodes}).
 *
 * @example
 * ```ts
 * foreignNodesMessage('r1', 'approval', '2026-11', '2026-12', ['review']);
 * ```
 */
export function foreignNodesMessage(runId: string, topology: string, recorded: string, resuming: string, foreign: readonly string[]): string {
  const names = foreign.map((id) => `'${id}'`).join(', ');
  return `run '${runId}' of topology '${topology}' was recorded under version ${recorded} and got to ${foreign.length === 1 ? 'node' : 'nodes'} ${names}, which the definition resuming it (version ${resuming}) does not have; register the recorded definition to resume it`;
}

/**
 * What `engine.recover()` did: the runs it resumed, the runs it could not resume
 * (recorded as failed), and the results of the resumed runs as they end.
 *
 * @example
 * ```ts
 * const report = await engine.recover();
 * console.log(report.resumed.length, report.failed.map((f) => f.error.code));
 * report.results.subscribe((r) => console.log(r.runId, r.status));
 * ```
 */
export interface RecoveryReport {
  /** Ids of the runs claimed and relaunched. */
  readonly resumed: readonly string[];
  /**
   * Runs claimed but not resumed: `TOPOLOGY_CHANGED` (the run's recorded version is not
   * registered with this engine; `run.failed` is appended) or a store error reading it.
   */
  readonly failed: readonly { readonly runId: string; readonly topology: string; readonly error: StoreError }[];
  /**
   * One result per resumed run, as each ends; completes after the last. Replayed to late
   * subscribers, so it may be subscribed after `recover()` resolved.
   */
  readonly results: Observable<RunResult>;
}
