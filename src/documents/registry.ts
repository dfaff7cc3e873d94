/**
 * Named operators for topologies written as JSON or YAML: a document names a
 * registered function, tool, schema or sub-topology; the registry supplies it.
 * @module
 */
import type { z } from 'zod';
import type { AnyTopology, NodeContext } from '../definition/types.ts';
import type { Tool } from '../../operators/tool.ts';

/** A registered fan-out: the list to fan out over and the work per element. */
export interface RegisteredFanOut {
  /** The list to fan out over. */
  readonly items: (ctx: NodeContext) => readonly unknown[] | PromiseLike<readonly unknown[]>;
  /** The work for one element. */
  readonly each: (item: unknown, index: number, ctx: NodeContext) => unknown;
}

/** A registered node function: map, join or tool-argument builder. */
export type OperatorFn = (ctx: NodeContext) => unknown;

const REGISTRY = Symbol.for('llm-orchestrator.Registry');

/** True for a registry made by {@link createRegistry} (from any copy of the package). */
export function isRegistry(v: unknown): v is Registry {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[REGISTRY] === true;
}

/**
 * Operators by name. Registering a name twice replaces the earlier entry.
 *
 * @example
 * ```ts
 * const ops = createRegistry()
 *   .map('retrieve', async ({ input }) => search(input))
 *   .route('verdict', ({ deps }) => (deps.verify.ok ? 'approve' : 'revise'))
 *   .schema('question', z.object({ question: z.string() }));
 * ```
 */
export class Registry {
  /** Brand checked by `isRegistry`. */
  readonly [REGISTRY] = true;
  /** Functions of `kind: map` nodes, by name. */
  readonly maps = new Map<string, OperatorFn>();
  /** Branch selectors of `kind: route` nodes, by name. */
  readonly routes = new Map<string, (ctx: NodeContext) => string | PromiseLike<string>>();
  /** Combiners of `kind: join` nodes, by name. */
  readonly joins = new Map<string, OperatorFn>();
  /** Tools of `kind: tool` nodes, by their own name. */
  readonly tools = new Map<string, Tool<unknown, unknown>>();
  /** Fan-outs of `kind: fanOut` nodes, by name. */
  readonly fanOuts = new Map<string, RegisteredFanOut>();
  /** Topologies of `kind: topology` nodes, by name. */
  readonly topologies = new Map<string, AnyTopology>();
  /** Schemas for a document's `input` and nodes' `outputSchema`, by name. */
  readonly schemas = new Map<string, z.ZodType>();

  /** Registers a function for `kind: map` nodes (`op: name`). */
  map(name: string, fn: (ctx: NodeContext<any, any>) => unknown): this {
    this.maps.set(name, fn as OperatorFn);
    return this;
  }
  /** Registers a branch selector for `kind: route` nodes. */
  route(name: string, fn: (ctx: NodeContext<any, any>) => string | PromiseLike<string>): this {
    this.routes.set(name, fn as (ctx: NodeContext) => string);
    return this;
  }
  /** Registers a combiner for `kind: join` nodes (without one, a join outputs its parents' outputs). */
  join(name: string, fn: (ctx: NodeContext<any, any>) => unknown): this {
    this.joins.set(name, fn as OperatorFn);
    return this;
  }
  /** Registers a tool under its own name for `kind: tool` nodes. */
  tool<A, R>(t: Tool<A, R>): this {
    this.tools.set(t.name, t as unknown as Tool<unknown, unknown>);
    return this;
  }
  /** Registers a fan-out for `kind: fanOut` nodes. */
  fanOut<T, R>(name: string, spec: { items: (ctx: NodeContext<any, any>) => readonly T[] | PromiseLike<readonly T[]>; each: (item: T, index: number, ctx: NodeContext<any, any>) => R | PromiseLike<R> }): this {
    this.fanOuts.set(name, spec as unknown as RegisteredFanOut);
    return this;
  }
  /** Registers a topology for `kind: topology` nodes. */
  topology(name: string, t: AnyTopology): this {
    this.topologies.set(name, t);
    return this;
  }
  /** Registers a zod schema, usable as a document's `input` or a node's `outputSchema`. */
  schema(name: string, s: z.ZodType): this {
    this.schemas.set(name, s);
    return this;
  }
}

/**
 * Creates an empty registry.
 *
 * @example
 * ```ts
 * const ops = createRegistry().map('upper', ({ input }) => String(input).toUpperCase());
 * ```
 */
export function createRegistry(): Registry {
  return new Registry();
}
