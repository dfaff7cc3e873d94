/**
 * Per-run changes to a topology's llm nodes without changing the topology: a `NodeOverride`
 * (RunOptions `overrides`, forks) and the A/B experiment a topology declares (`ExperimentSpec`
 * and its `VariantSpec` arms). Part of the topology data model (`types.ts`).
 * @module
 */

/**
 * Per-run settings of one llm node that replace its definition's (RunOptions `overrides`,
 * `engine.fork(..., { overrides: { nodes } })`): try another model or prompt without
 * changing the topology.
 *
 * @example
 * ```ts
 * const o: NodeOverride = { model: 'sim:other', system: 'Be brief.', prompt: 'Summarize: {{text}}' };
 * ```
 */
export interface NodeOverride {
  /** Model reference (or fallback chain) instead of the node's. Must be in the engine's catalogue. */
  readonly model?: string | readonly string[] | undefined;
  /** System message instead of the node's. */
  readonly system?: string | undefined;
  /** User message instead of the one the node's prompt function builds. */
  readonly prompt?: string | undefined;
  /** Sampling temperature instead of the node's. */
  readonly temperature?: number | undefined;
  /** Output token cap instead of the node's. */
  readonly maxTokens?: number | undefined;
}

/**
 * One arm of a topology's experiment: its share of traffic and what it changes.
 *
 * @example
 * ```ts
 * const v: VariantSpec = { weight: 20, nodes: { answer: { model: 'sim:fast', temperature: 0.2 } } };
 * ```
 */
export interface VariantSpec {
  /** Relative share of traffic (weights need not sum to 100). 0 sends no new runs to it. */
  readonly weight: number;
  /** Per-node settings of runs in this variant (a model, a prompt, parameters). */
  readonly nodes?: Readonly<Record<string, NodeOverride>> | undefined;
  readonly description?: string | undefined;
}

/**
 * An A/B experiment a topology declares: variants and a traffic split. Assignment is sticky
 * per key (hash of the experiment name and the key), and every run, event and evaluation
 * carries its variant (`ctx.variant` in nodes: a `route` on it runs a different sub-topology per variant).
 *
 * @example
 * ```ts
 * const e: ExperimentSpec = {
 *   stickyBy: 'user',
 *   variants: { control: { weight: 90 }, brief: { weight: 10, nodes: { answer: { system: 'Be brief.' } } } },
 * };
 * ```
 */
export interface ExperimentSpec {
  /** Name the assignment hash is salted with. Default: the topology's name. */
  readonly name?: string | undefined;
  /** What assignment sticks to: the run's `user` (default; falls back to tenant, then run id), its `tenant`, or each `run`. */
  readonly stickyBy?: 'user' | 'tenant' | 'run' | undefined;
  /** Variants by name, in order. */
  readonly variants: Readonly<Record<string, VariantSpec>>;
  /** The variant others are compared with (regression detection) and that takes a paused variant's traffic. Default: the first. */
  readonly control?: string | undefined;
}
