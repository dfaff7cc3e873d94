/**
 * Remote node messages: one node of a run to execute in another worker group, and its outcome, as
 * TypeScript types mirroring the Avro schemas in `schemas/`.
 * @module
 */

/**
 * One node of a run to execute in another worker group.
 *
 * @example
 * ```ts
 * const deps = JSON.parse(task.deps) as Record<string, unknown>;
 * ```
 */
export interface NodeTaskMessage {
  readonly taskId: string;
  readonly runId: string;
  readonly topology: string;
  readonly group: string;
  readonly nodeId: string;
  readonly input: string;
  readonly deps: string;
  readonly priority: string;
  readonly deadline: number | null;
  readonly origin: string;
}

/**
 * The outcome of a remote node task.
 *
 * @example
 * ```ts
 * const output = result.ok ? JSON.parse(result.output ?? 'null') : undefined;
 * ```
 */
export interface NodeResultMessage {
  readonly taskId: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly ok: boolean;
  readonly output: string | null;
  readonly error: string | null;
  readonly worker: string;
}
