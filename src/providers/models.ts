/**
 * Model references (`provider:model`), the providers behind them, their prices
 * (USD per million tokens, overridable) and their rate limits.
 * @module
 */
import { RateLimiter, RateLimitsSchema, type RateLimits } from './ratelimit.ts';
import { ValidationError, toIssues } from '../errors.ts';
import { createSimProvider } from './sim.ts';
import type { Provider, Usage } from './types.ts';
import { estimateTokens, type TokenCounter } from './tokens.ts';

/** Price of a model in USD per million tokens. */
export interface Price {
  readonly input: number;
  readonly output: number;
  /** Price of cached prompt tokens; default: the input price. */
  readonly cachedInput?: number;
  /** Price of prompt tokens written to the cache; default: the input price. */
  readonly cacheWrite?: number;
}

/**
 * List prices of common models (USD per million tokens). Override or extend with
 * `createModels({ prices })`; a model with no price costs 0 and is flagged in usage.
 */
export const DEFAULT_PRICES: Readonly<Record<string, Price>> = {
  'openai:gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
  'openai:gpt-4o-mini': { input: 0.15, output: 0.6, cachedInput: 0.075 },
  'openai:gpt-4.1': { input: 2, output: 8, cachedInput: 0.5 },
  'openai:gpt-4.1-mini': { input: 0.4, output: 1.6, cachedInput: 0.1 },
  'openai:o4-mini': { input: 1.1, output: 4.4, cachedInput: 0.275 },
  'anthropic:claude-sonnet-4-5': { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  'anthropic:claude-haiku-4-5': { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 },
  'anthropic:claude-opus-4-1': { input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75 },
  // SIMULATED models of known quality (see sim-quality.ts): made-up prices, for loop demos and benches
  'sim:small': { input: 0.1, output: 0.4 },
  'sim:medium': { input: 0.5, output: 2 },
  'sim:large': { input: 2.5, output: 10 },
};

const MODELS = Symbol.for('llm-orchestrator.Models');

/** True for a model catalogue made by {@link createModels} (from any copy of the package). */
export function isModels(v: unknown): v is Models {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[MODELS] === true;
}

/** A resolved model reference. */
export interface ResolvedModel {
  readonly ref: string;
  readonly provider: Provider;
  readonly model: string;
  readonly price: Price | undefined;
  readonly limiter: RateLimiter | undefined;
}

/** Options of {@link createModels}. */
export interface ModelsOptions {
  /** Providers by their `name`. Default: only the simulated provider. */
  readonly providers?: readonly Provider[];
  /** Prices by model reference, merged over {@link DEFAULT_PRICES}. */
  readonly prices?: Readonly<Record<string, Price>>;
  /** Requests/tokens per minute by model reference (`openai:gpt-4o-mini`) or provider (`openai`). */
  readonly rateLimits?: Readonly<Record<string, RateLimits>>;
  /**
   * Names for model references, so a topology can say `model: 'default'` and the
   * deployment decides what serves it. Default: `{ default: 'sim:default' }`.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /**
   * Counts tokens where a provider reports no usage and for rate-limit reservations.
   * Default: {@link estimateTokens}, a vocabulary-free estimate; `gptTokenCounter` from
   * `llm-orchestrator/tokenizer` counts exactly for OpenAI models.
   */
  readonly countTokens?: TokenCounter;
}

/**
 * The model catalogue an engine calls through.
 *
 * @example
 * ```ts
 * const models = createModels({ providers: [createSimProvider(), createOpenAIProvider({ apiKey })], rateLimits: { openai: { rpm: 500 } } });
 * const engine = createEngine({ models });
 * ```
 */
export class Models {
  /** Brand checked by `isModels`, so a catalogue from another copy of the package is accepted. */
  readonly [MODELS] = true;
  readonly #providers = new Map<string, Provider>();
  readonly #prices: Record<string, Price>;
  readonly #limits: Readonly<Record<string, RateLimits>>;
  readonly #limiters = new Map<string, RateLimiter>();
  readonly #resolved = new Map<string, ResolvedModel>();
  readonly #aliases: Readonly<Record<string, string>>;
  /** The token counter of this catalogue. */
  readonly countTokens: TokenCounter;

  constructor(options: ModelsOptions = {}) {
    // limits are checked up front so a typo fails at startup, not at the first call
    for (const [key, limits] of Object.entries(options.rateLimits ?? {})) {
      const r = RateLimitsSchema.safeParse(limits);
      if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'createModels options are invalid', toIssues(r.error.issues, ['rateLimits', key]));
    }
    this.#aliases = { default: 'sim:default', ...options.aliases };
    for (const p of options.providers ?? [createSimProvider()]) this.#providers.set(p.name, p);
    this.#prices = { ...DEFAULT_PRICES, ...options.prices };
    this.#limits = options.rateLimits ?? {};
    this.countTokens = options.countTokens ?? estimateTokens;
  }

  /** Provider names. */
  get providerNames(): readonly string[] {
    return [...this.#providers.keys()];
  }

  /** What an alias stands for (the reference itself when it is not an alias). */
  target(ref: string): string {
    return Object.hasOwn(this.#aliases, ref) ? this.#aliases[ref]! : ref;
  }

  /** Resolves `provider:model` or an alias; undefined when the provider is unknown or the reference malformed. */
  resolve(name: string): ResolvedModel | undefined {
    const hit = this.#resolved.get(name);
    if (hit !== undefined) return hit;
    const ref = this.target(name);
    const at = ref.indexOf(':');
    if (at <= 0 || at === ref.length - 1) return undefined;
    const provider = this.#providers.get(ref.slice(0, at));
    if (provider === undefined) return undefined;
    const providerName = ref.slice(0, at);
    const limitKey = this.#limits[ref] !== undefined ? ref : this.#limits[providerName] !== undefined ? providerName : undefined;
    let limiter: RateLimiter | undefined;
    if (limitKey !== undefined) {
      limiter = this.#limiters.get(limitKey);
      if (limiter === undefined) {
        limiter = new RateLimiter(this.#limits[limitKey]!);
        this.#limiters.set(limitKey, limiter);
      }
    }
    const r: ResolvedModel = { ref, provider, model: ref.slice(at + 1), price: this.#prices[ref], limiter };
    this.#resolved.set(name, r);
    return r;
  }

  /** Cost in USD of a usage on a model (0 when the model has no price). */
  cost(ref: string, usage: Usage): number {
    const p = this.#prices[ref];
    if (p === undefined) return 0;
    const cached = Math.min(usage.cachedTokens, usage.inputTokens);
    const written = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
    return ((usage.inputTokens - cached - written) * p.input + cached * (p.cachedInput ?? p.input) + written * (p.cacheWrite ?? p.input) + usage.outputTokens * p.output) / 1e6;
  }
}

/**
 * Creates a model catalogue.
 *
 * @example
 * ```ts
 * const models = createModels({ prices: { 'openai:gpt-4o-mini': { input: 0.15, output: 0.6 } } });
 * ```
 */
export function createModels(options: ModelsOptions = {}): Models {
  return new Models(options);
}
