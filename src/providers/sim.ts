/**
 * The SIMULATED provider (`sim:`): the embedded default for demos, tests and
 * benchmarks. It streams plausible text token by token with a configurable time
 * to first token and inter-token delay, is deterministic for a seed, reports
 * usage, and says it is simulated (`provider.simulated === true`). With zero
 * delays it emits synchronously, so benchmarks measure the engine, not timers.
 * @module
 */
import { Observable } from 'rxjs';
import { mulberry32 } from '../primitives/random.ts';
import type { CompletionRequest, Provider, ProviderEvent, ToolCall } from './types.ts';
import { SIM_QUALITY_MODELS, simAnswer } from './sim-quality.ts';

/**
 * Timing (and quality) of a simulated model.
 *
 * @example
 * ```ts
 * const t: SimTiming = { ttftMs: 0, tokenMs: 0, quality: 0.7 };
 * ```
 */
export interface SimTiming {
  /** Time to first token, ms. */
  readonly ttftMs: number;
  /** Delay between tokens, ms. */
  readonly tokenMs: number;
  /**
   * Share (0..1) of the simulated task's questions (`What is 37 + 45?`, see `simQuestion`)
   * the model answers right; other prompts are not affected. Default 1.
   */
  readonly quality?: number;
}

/** What a scripted simulated model answers. */
export interface SimResponse {
  readonly text?: string;
  readonly toolCalls?: readonly ToolCall[];
}

/** Options of the simulated provider. */
export interface SimProviderOptions {
  /** Provider name. Default `sim`. */
  readonly name?: string;
  /** Timing per model name; unknown models use `default`. */
  readonly models?: Readonly<Record<string, SimTiming>>;
  /** Seed used when the request has none. Default 42. */
  readonly seed?: number;
  /** Tokens generated when the request sets no maxTokens. Default 48. */
  readonly defaultTokens?: number;
  /** Scripts the answer (e.g. a JSON object for structured output); default: the simulated task's answer (see `simAnswer`) to a prompt asking its question, else generated prose. */
  readonly respond?: (request: CompletionRequest) => SimResponse | string;
}

/**
 * Built-in simulated models: `fast` (no delay), `default`, `realistic`, `slow`, and three of
 * known quality on the simulated task for feedback-loop demos: `small`, `medium`, `large`
 * (no delay; quality 0.55, 0.9, 0.93).
 *
 * @example
 * ```ts
 * SIM_MODELS.default; // { ttftMs: 250, tokenMs: 12 }
 * ```
 */
export const SIM_MODELS: Readonly<Record<string, SimTiming>> = {
  fast: { ttftMs: 0, tokenMs: 0 },
  default: { ttftMs: 250, tokenMs: 12 },
  realistic: { ttftMs: 450, tokenMs: 25 },
  slow: { ttftMs: 1200, tokenMs: 60 },
  ...SIM_QUALITY_MODELS,
};

const BANK = [
  'Each stage admits new work only when a slot frees, so memory stays bounded.',
  'Retrieval grounds the answer in sources before a verifier checks the draft.',
  'Shared pools keep provider calls under their limits across every run.',
  'Priorities decide who goes next, and aging keeps low priority work moving.',
  'Every step is an event, so a run can be traced, replayed or resumed.',
  'Tokens stream to downstream stages as soon as the model produces them.',
];
const CONNECTIVES = ['', 'In short, ', 'Moreover, ', 'As a result, ', 'Note that ', 'In practice, '];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Splits text into word-like tokens that keep their leading space. Linear: trailing whitespace
 * is cut first, so every `\s*` run is followed by a `\S` and the regex never backtracks (on
 * `'x' + ' '.repeat(n)` the bare regex retried each space: O(n²)).
 *
 * @example
 * ```ts
 * simTokens('Hello big  world '); // ['Hello', ' big', '  world']
 * ```
 */
export function simTokens(text: string): string[] {
  return text.trimEnd().match(/\s*\S+/g) ?? [];
}

const TERMINATOR = new Set(['.', '!', '?']);

/**
 * The sentences of a text: maximal runs without `.`, `!`, `?` or a newline that end in one of
 * `.!?` (the terminator included). Same matches as `/[^.!?\n]+[.!?]/g`, in one pass: the regex
 * rescanned a run with no terminator from each of its characters (O(n²): 80,000 characters
 * without a full stop took seconds).
 *
 * @example
 * ```ts
 * sentencesOf('Why? Because.\nno end'); // ['Why?', ' Because.']
 * ```
 */
export function sentencesOf(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (TERMINATOR.has(c)) {
      if (i > start) out.push(text.slice(start, i + 1));
      start = i + 1;
    } else if (c === '\n') start = i + 1;
  }
  return out;
}

/**
 * Plausible text as tokens: sentences taken from the prompt (so answers stay on
 * topic), then from a small bank, ordered by the seed and joined with connectives.
 * Each distinct sentence is split into tokens once.
 */
function proseTokens(req: CompletionRequest, seed: number, count: number): string[] {
  const last = [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const fromPrompt = sentencesOf(last)
    .map((x) => x.replace(/^[\s\-*]*([A-Z][\w ]{0,40}:\s*)?/, '').trim())
    .filter((x) => x.split(/\s+/).length >= 5);
  const pool = [...new Set([...fromPrompt, ...BANK])];
  const rand = mulberry32(seed ^ hash(req.messages.map((m) => m.content).join('\n')));
  const cache = new Map<number, string[]>();
  const out: string[] = [];
  // sentences in a seeded shuffled order, each used once before any repeats
  const order: number[] = [];
  let next = 0;
  while (out.length < count) {
    if (next === order.length) {
      order.length = 0;
      next = 0;
      for (let k = 0; k < pool.length; k++) order.push(k);
      for (let k = order.length - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1));
        [order[k], order[j]] = [order[j]!, order[k]!];
      }
    }
    const si = order[next++]!;
    const li = Math.floor(rand() * CONNECTIVES.length);
    const key = si * CONNECTIVES.length + li;
    let toks = cache.get(key);
    if (toks === undefined) {
      const sentence = pool[si]!;
      const lead = CONNECTIVES[li]!;
      toks = simTokens(lead === '' ? sentence : `${lead}${sentence.charAt(0).toLowerCase()}${sentence.slice(1)}`);
      cache.set(key, toks);
    }
    for (let k = 0; k < toks.length && out.length < count; k++) out.push(k === 0 && out.length > 0 ? ` ${toks[k]!}` : toks[k]!);
  }
  return out;
}

/** The answer to the simulated task's question in the last user message, if it asks one. */
function taskAnswer(req: CompletionRequest, quality: number, seed: number): string | undefined {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i]!;
    if (m.role === 'user') return m.content.includes('What is ') ? simAnswer(m.content, quality, seed) : undefined;
  }
  return undefined;
}

/**
 * Creates the simulated provider.
 *
 * @example
 * ```ts
 * const sim = createSimProvider({ models: { demo: { ttftMs: 200, tokenMs: 10 } } });
 * // model references: 'sim:fast', 'sim:default', 'sim:demo'
 * ```
 */
export function createSimProvider(options: SimProviderOptions = {}): Provider {
  const name = options.name ?? 'sim';
  const models = { ...SIM_MODELS, ...options.models };
  const respond = options.respond;
  return {
    name,
    simulated: true,
    stream(req: CompletionRequest, signal?: AbortSignal) {
      return new Observable<ProviderEvent>((subscriber) => {
        const timing = models[req.model] ?? models['default']!;
        const seed = req.seed ?? options.seed ?? 42;
        const scripted = respond?.(req) ?? taskAnswer(req, timing.quality ?? 1, seed);
        const answer: SimResponse | undefined = typeof scripted === 'string' ? { text: scripted } : scripted;
        const tokens = answer === undefined ? proseTokens(req, seed, req.maxTokens ?? options.defaultTokens ?? 48) : simTokens(answer.text ?? '');
        const inputTokens = Math.ceil(req.messages.reduce((n, m) => n + m.content.length + 4, 0) / 4);
        const finish = (): void => {
          answer?.toolCalls?.forEach((c, index) => subscriber.next({ type: 'tool_call', index, id: c.id, name: c.name, arguments: c.arguments }));
          subscriber.next({ type: 'finish', reason: answer?.toolCalls?.length ? 'tool_calls' : 'stop' });
          subscriber.next({ type: 'usage', usage: { inputTokens, outputTokens: tokens.length, cachedTokens: 0, reasoningTokens: 0 } });
          subscriber.complete();
        };
        if (signal?.aborted) {
          subscriber.error(signal.reason);
          return undefined;
        }
        subscriber.next({ type: 'response', status: 200, rateLimit: {} });
        subscriber.next({ type: 'model', model: req.model });
        if (timing.ttftMs === 0 && timing.tokenMs === 0) {
          for (let i = 0; i < tokens.length && !subscriber.closed && !signal?.aborted; i++) subscriber.next({ type: 'text', text: tokens[i]! });
          if (signal?.aborted) subscriber.error(signal.reason);
          else if (!subscriber.closed) finish();
          return undefined;
        }
        let i = 0;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const step = (): void => {
          if (i < tokens.length) {
            subscriber.next({ type: 'text', text: tokens[i++]! });
            timer = setTimeout(step, timing.tokenMs);
          } else finish();
        };
        timer = setTimeout(step, timing.ttftMs);
        const onAbort = (): void => subscriber.error(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        return () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
      });
    },
  };
}
