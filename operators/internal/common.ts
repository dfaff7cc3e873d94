/**
 * What every node spec may carry besides its function, and the one helper that
 * copies those options onto a {@link NodeDef} (shared by all operator factories).
 * @module
 */
import type { z } from 'zod';
import type { CompensationContext, Execute, NodeDef, NodeKind } from '../../src/definition/types.ts';
import type { RetryOptions } from '../../src/resilience/retry.ts';

/** Options every node kind accepts. */
export interface NodeOptions {
  /**
   * Most executions of this node in progress at once, across every run of the topology on one
   * engine. A run's node takes a slot when it is ready (waiting runs queue by priority, with aging),
   * keeps it while it waits for its pools and the global task slot and while its function runs, and
   * frees it only when that function has actually settled, also after a timeout or the end of its
   * run already settled the node (a function that ignores its signal keeps its slot). A fan-out
   * counts one slot per node execution, not per item (see `itemCap`).
   */
  readonly cap?: number;
  /**
   * Named resource pool(s) of the engine, held while the node's function runs and until it settles,
   * even after a timeout (a fan-out's items hold them one item each). Refused on sub-topology and remote nodes (validation issue
   * `pool_not_supported`): set pools on the nodes of the child topology or of the remote group.
   */
  readonly pool?: string | readonly string[];
  /** Per-node timeout in ms; the run deadline may shorten it. */
  readonly timeoutMs?: number;
  /** Node to run (with this node's error as its dependency) instead of failing the run. */
  readonly onError?: string;
  /** Static configuration, seen as `ctx.config`. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly description?: string;
  /** Retry transient failures (errors with `retriable: true`). */
  readonly retry?: RetryOptions;
  /** Run this node in another worker group (a remote edge): its inputs and output travel over topics. */
  readonly remote?: string;
}

/** Options plus the dependency list and an output schema. */
export interface BaseSpec<R> extends NodeOptions {
  /** Ids of the nodes this node waits for. */
  readonly after?: readonly string[];
  /** Validates (and may transform) the node's output. */
  readonly output?: z.ZodType<R>;
  /** Start when this llm node starts streaming; read its tokens with `ctx.tokens(id)`. */
  readonly streamFrom?: string;
  /** Saga step: undoes this node's effect if its run fails after it completed. */
  readonly compensate?: (ctx: CompensationContext<any, R>) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Builds a NodeDef from the shared options, omitting what is not set. */
export function nodeDef<Id extends string>(
  id: Id,
  kind: NodeKind,
  spec: BaseSpec<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  execute: Execute,
  extra?: Partial<Pick<NodeDef, 'branches' | 'topology' | 'models'>>,
): NodeDef & { readonly id: Id } {
  const def: Mutable<NodeDef> & { id: Id } = { id, kind, after: spec.after ? [...spec.after] : [], execute };
  def.source = spec as Readonly<Record<string, unknown>>;
  if (spec.cap !== undefined) def.cap = spec.cap;
  if (spec.pool !== undefined) def.pools = typeof spec.pool === 'string' ? [spec.pool] : [...spec.pool];
  if (spec.timeoutMs !== undefined) def.timeoutMs = spec.timeoutMs;
  if (spec.onError !== undefined) def.onError = spec.onError;
  if (spec.output !== undefined) def.output = spec.output;
  if (spec.config !== undefined) def.config = spec.config;
  if (spec.description !== undefined) def.description = spec.description;
  if (extra?.branches !== undefined) def.branches = extra.branches;
  if (extra?.topology !== undefined) def.topology = extra.topology;
  if (extra?.models !== undefined) def.models = extra.models;
  if (spec.streamFrom !== undefined) def.streamFrom = spec.streamFrom;
  if (spec.retry !== undefined) def.retry = spec.retry;
  if (spec.remote !== undefined) def.remote = spec.remote;
  if (spec.compensate !== undefined) def.compensate = spec.compensate as NonNullable<NodeDef['compensate']>;
  return def;
}
