/**
 * The typed TypeScript builder. Types flow: each node's function sees the run
 * input (from the zod schema) and the outputs of exactly the nodes it lists in
 * `after`, and each node's output type is added to the builder for later nodes.
 * @module
 */
import type { z } from 'zod';
import { TopologyError } from '../errors.ts';
import { validateTopology } from '../compiler/validate.ts';
import type { ExperimentSpec, NodeContext, NodeDef, Topology } from '../definition/types.ts';
import { map, type MapSpec } from '../../operators/map.ts';
import { route, type RouteSpec } from '../../operators/route.ts';
import { join, type JoinSpec } from '../../operators/join.ts';
import { tool, type ToolSpec } from '../../operators/tool.ts';
import { fanOut, type FanOutSpec } from '../../operators/fanOut.ts';
import { subTopology, type SubTopologySpec } from '../../operators/subTopology.ts';
import { llm, type LlmOutput, type LlmSpec } from '../../operators/llm.ts';
import { wait, type WaitSpec } from '../../operators/wait.ts';

/** The outputs of the listed dependencies. */
export type DepsOf<O, D extends keyof O> = { readonly [K in D]: O[K] };
/** The outputs `O` with node `Id`'s output `R` added (what each builder method returns). */
export type Add<O, Id extends string, R> = O & { readonly [K in Id]: R };
/** Replaces `after` with a typed list of known node ids. */
export type WithAfter<S, D> = Omit<S, 'after'> & { readonly after?: readonly D[] };

/** Topology-wide options. */
export interface TopologyOptions<S extends z.ZodType | undefined> {
  /** Validates the run input; its output type types every node's `ctx.input`. */
  readonly input?: S;
  /** At most this many runs in flight at once per engine (admission control). Default 1024. */
  readonly maxInFlight?: number;
  readonly description?: string;
  /** An A/B experiment over the topology's runs: variants and a traffic split (see {@link ExperimentSpec}). */
  readonly experiment?: ExperimentSpec;
  /** Your own version, recorded with durable runs instead of the computed hash (see {@link Topology.version}). */
  readonly version?: string;
  /** Versions of earlier definitions whose durable runs this one resumes (see {@link Topology.resumes}). */
  readonly resumes?: readonly string[];
}

/**
 * Starts a topology definition.
 *
 * @example
 * ```ts
 * const t = topology('greet', { input: z.object({ name: z.string() }) })
 *   .map('hello', { run: ({ input }) => `Hello, ${input.name}` })
 *   .map('shout', { after: ['hello'], run: ({ deps }) => deps.hello.toUpperCase() })
 *   .build({ output: 'shout' });
 * ```
 */
export function topology<S extends z.ZodType | undefined = undefined>(
  name: string,
  options: TopologyOptions<S> = {},
): TopologyBuilder<S extends z.ZodType ? z.output<S> : unknown, {}> {
  return new TopologyBuilder(name, options, [], 0);
}

/**
 * Immutable, typed topology builder; every method returns a new builder.
 *
 * @example
 * ```ts
 * const b = topology('t').map('a', { run: () => 1 });
 * const t = b.map('b', { after: ['a'], run: ({ deps }) => deps.a + 1 }).build();
 * ```
 */
export class TopologyBuilder<I, O extends Record<string, unknown>> {
  readonly #name: string;
  readonly #options: TopologyOptions<z.ZodType | undefined>;
  /**
   * Append-only, shared with the builders made from this one: this builder's nodes are
   * the first `#count`. Adding to the newest builder appends in place (O(1), so a chain
   * of 100,000 `.map` calls is linear); adding to an older one copies its prefix first.
   */
  readonly #nodes: NodeDef[];
  readonly #count: number;

  /** @internal Use {@link topology}. */
  constructor(name: string, options: TopologyOptions<z.ZodType | undefined>, nodes: NodeDef[], count: number) {
    this.#name = name;
    this.#options = options;
    this.#nodes = nodes;
    this.#count = count;
  }

  /** Adds any prebuilt node (e.g. from a custom operator). Its output is typed as `R`. */
  node<Id extends string, R = unknown>(def: NodeDef & { readonly id: Id }): TopologyBuilder<I, Add<O, Id, R>> {
    const nodes = this.#count === this.#nodes.length ? this.#nodes : this.#nodes.slice(0, this.#count);
    nodes.push(def);
    return new TopologyBuilder(this.#name, this.#options, nodes, this.#count + 1);
  }

  /** Adds a map node: an async or sync function of the input and dependencies. */
  map<Id extends string, R, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<MapSpec<I, DepsOf<O, D>, R>, D>,
  ): TopologyBuilder<I, Add<O, Id, Awaited<R>>> {
    return this.node(map(id, spec));
  }

  /** Adds a tool node: arguments and result validated by the tool's zod schemas. */
  tool<Id extends string, A, R, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<ToolSpec<I, DepsOf<O, D>, A, R>, D>,
  ): TopologyBuilder<I, Add<O, Id, R>> {
    return this.node(tool(id, spec));
  }

  /** Adds a route node: only the chosen branch's nodes run; the others are skipped. Output: the branch name. */
  route<Id extends string, B extends string, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<RouteSpec<I, DepsOf<O, D>, B>, D>,
  ): TopologyBuilder<I, Add<O, Id, B>> {
    return this.node(route(id, spec));
  }

  /** Adds a join node: fires with the outputs of all parents that ran (skipped ones are absent). */
  join<Id extends string, D extends keyof O & string, R = Partial<DepsOf<O, D>>>(
    id: Id,
    spec: Omit<JoinSpec<I, Partial<DepsOf<O, D>>, R>, 'after'> & { readonly after: readonly D[] },
  ): TopologyBuilder<I, Add<O, Id, Awaited<R>>> {
    return this.node(join(id, spec));
  }

  /** Adds a fan-out node: one sub-task per list element under `itemCap`, gathered in order. */
  fanOut<Id extends string, T, R, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<FanOutSpec<I, DepsOf<O, D>, T, R>, D>,
  ): TopologyBuilder<I, Add<O, Id, Awaited<R>[]>> {
    return this.node(fanOut(id, spec));
  }

  /**
   * Adds an llm node: one streamed model call. Output: text, structured `data` (with
   * a `schema`), tool calls, usage and cost.
   */
  llm<Id extends string, T = undefined, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<LlmSpec<I, DepsOf<O, D>, T>, D>,
  ): TopologyBuilder<I, Add<O, Id, LlmOutput<T>>> {
    return this.node(llm(id, spec));
  }

  /**
   * Adds a wait node: waits for `engine.signal(runId, name, payload)` and outputs the payload
   * (validated by `schema`). With a store the run is parked meanwhile (see `wait`).
   */
  wait<Id extends string, P, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<WaitSpec<P>, D>,
  ): TopologyBuilder<I, Add<O, Id, P>> {
    return this.node(wait(id, spec));
  }

  /** Adds a node that runs another topology as a child run. Output: the child's declared output. */
  sub<Id extends string, SI, SOut, D extends keyof O & string = never>(
    id: Id,
    spec: WithAfter<SubTopologySpec<I, DepsOf<O, D>, SI, SOut>, D>,
  ): TopologyBuilder<I, Add<O, Id, SOut>> {
    return this.node(subTopology(id, spec));
  }

  /**
   * Validates and returns the topology. Throws {@link TopologyError} listing every
   * problem (cycles as paths, missing dependencies, bad caps, ...).
   */
  build(): Topology<I, O, undefined>;
  build<K extends keyof O & string>(options: { readonly output: K }): Topology<I, O, O[K]>;
  build(options?: { readonly output?: string }): Topology<I, O, unknown> {
    const t: { -readonly [K in keyof Topology]: Topology[K] } = { name: this.#name, nodes: this.#nodes.slice(0, this.#count) };
    if (this.#options.input !== undefined) t.input = this.#options.input;
    if (this.#options.maxInFlight !== undefined) t.maxInFlight = this.#options.maxInFlight;
    if (this.#options.description !== undefined) t.description = this.#options.description;
    if (this.#options.experiment !== undefined) t.experiment = this.#options.experiment;
    if (this.#options.version !== undefined) t.version = this.#options.version;
    if (this.#options.resumes !== undefined) t.resumes = [...this.#options.resumes];
    if (options?.output !== undefined) t.output = options.output;
    const v = validateTopology(t);
    if (!v.ok) throw new TopologyError(t.name, v.issues);
    return t as Topology<I, O, unknown>;
  }
}

export type { NodeContext };
