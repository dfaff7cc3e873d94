/**
 * Remote edges: a node marked `remote` runs in another worker group. Holds the `RemoteTask`
 * sent for such a node and the `RemoteExecutor` contract the engine sends it through
 * (`createEngine({ remote })`). Part of the topology data model (`types.ts`).
 * @module
 */
import type { Priority } from './context.ts';

/**
 * One node to execute elsewhere (a remote edge).
 *
 * @example
 * ```ts
 * const task: RemoteTask = { topology: 'rag', group: 'gpu', nodeId: 'embed', runId: 'r1', input: { q: 'Hi' }, deps: {}, priority: 'normal', deadline: undefined };
 * ```
 */
export interface RemoteTask {
  readonly topology: string;
  readonly group: string;
  readonly nodeId: string;
  readonly runId: string;
  readonly input: unknown;
  readonly deps: Readonly<Record<string, unknown>>;
  readonly priority: Priority;
  /** Absolute epoch ms, or undefined. */
  readonly deadline: number | undefined;
}

/**
 * Runs remote nodes: sends the task to the node's worker group and resolves with
 * its output (or rejects with its error). See `createRemoteExecutor`.
 *
 * @example
 * ```ts
 * const engine = createEngine({ remote: createRemoteExecutor(transport) });
 * ```
 */
export interface RemoteExecutor {
  /** Sends `task` to its worker group; resolves with the node's output, rejects with its error; `signal` stops waiting. */
  execute(task: RemoteTask, signal: AbortSignal): Promise<unknown>;
}
