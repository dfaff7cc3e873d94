/**
 * A checkable task for the SIMULATED provider, so the value of routing between models is
 * measurable: prompts asking `What is A + B?` get an answer that is right with the model's
 * `quality` (0..1), and {@link simJudge} scores any answer against the question. Nothing
 * here is a real model; the three built-in models of known quality ({@link SIM_QUALITY_MODELS})
 * and their prices exist for demos, tests and benchmarks of feedback loops.
 * @module
 */

/** The task's question, anywhere in a prompt: `What is 37 + 45?` (integers, up to 9 digits). */
const QUESTION = /What is (-?\d{1,9}) \+ (-?\d{1,9})\?/;

/** FNV-1a over UTF-16 code units, then murmur3's finalizer, so nearby prompts spread over [0, 2^32). */
function mix(s: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The question of the simulated task, for two integers.
 *
 * @example
 * ```ts
 * simQuestion(37, 45); // 'What is 37 + 45?'
 * ```
 */
export function simQuestion(a: number, b: number): string {
  return `What is ${a} + ${b}?`;
}

/**
 * The two integers of the task's question in a text, or undefined when it asks none.
 *
 * @example
 * ```ts
 * parseSimQuestion('Please: What is 37 + 45? Be brief.'); // [37, 45]
 * ```
 */
export function parseSimQuestion(text: string): readonly [number, number] | undefined {
  const m = QUESTION.exec(text);
  return m === null ? undefined : [Number(m[1]), Number(m[2])];
}

/**
 * How a simulated model of `quality` answers a prompt: `A + B = S.` with the right sum when
 * the prompt's difficulty (a uniform draw from the seed and the prompt text) is below
 * `quality`, else with a plausible wrong sum (off by 1 to 10). Undefined for a prompt that
 * asks no task question. Deterministic: the same seed and prompt give the same answer, and
 * a model of higher quality is right on every prompt a lower one is right on.
 *
 * @example
 * ```ts
 * simAnswer('What is 37 + 45?', 1, 42); // '37 + 45 = 82.'
 * simAnswer('Hello', 1, 42); // undefined
 * ```
 */
export function simAnswer(prompt: string, quality: number, seed: number): string | undefined {
  const q = parseSimQuestion(prompt);
  if (q === undefined) return undefined;
  const [a, b] = q;
  const difficulty = mix(prompt, seed) / 4294967296;
  let sum = a + b;
  if (!(difficulty < quality)) {
    const d = mix(prompt, seed ^ 0x9e3779b9);
    const off = 1 + (d % 10);
    sum += d & 0x400 ? off : -off;
  }
  return `${a} + ${b} = ${sum}.`;
}

/** A value's `text` when it is an object with a string `text` (an llm node's output), else the value. */
function unwrap(v: unknown): unknown {
  return typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string' ? (v as { text: string }).text : v;
}

/**
 * The text to look in: an llm node's output (`{ text }`) by its text, a string as is, or, when
 * the string is JSON text (an evaluation request's `input` / `output`), what it holds; anything
 * else as JSON.
 */
function textOf(v: unknown): string {
  let x = unwrap(v);
  if (typeof x === 'string') {
    const raw = x;
    const t = raw.trimStart();
    if (!(t.startsWith('{') || t.startsWith('"') || t.startsWith('['))) return raw;
    try {
      x = unwrap(JSON.parse(raw) as unknown);
    } catch {
      return raw;
    }
  }
  if (typeof x === 'string') return x;
  try {
    return JSON.stringify(x) ?? '';
  } catch {
    return '';
  }
}

/**
 * The simulated evaluator: 1 when the last integer of `output` is the sum the task question in
 * `input` asks for, else 0. `input` and `output` may be plain strings, JSON text (as in an
 * evaluation request) or JSON values; an llm node's output (`{ text, usage, … }`) is judged by
 * its `text`. An input with no question scores 0.
 *
 * @example
 * ```ts
 * simJudge({ question: 'What is 37 + 45?' }, '37 + 45 = 82.'); // 1
 * simJudge('What is 37 + 45?', 'It is 81'); // 0
 * simJudge('{"question":"What is 1 + 2?"}', '{"text":"1 + 2 = 3.","costUsd":0.00001}'); // 1
 * ```
 */
export function simJudge(input: unknown, output: unknown): 0 | 1 {
  const q = parseSimQuestion(textOf(input));
  if (q === undefined) return 0;
  const numbers = textOf(output).match(/-?\d+/g);
  const last = numbers?.at(-1);
  return last !== undefined && Number(last) === q[0] + q[1] ? 1 : 0;
}

/**
 * The three built-in simulated models of known quality on the task (zero delay). Their
 * prices are in `DEFAULT_PRICES` (`sim:small` 0.1/0.4, `sim:medium` 0.5/2, `sim:large`
 * 2.5/10 USD per million tokens), chosen so that `sim:medium` is nearly as good as
 * `sim:large` at a fifth of its price: the arm a cost-aware bandit should find.
 *
 * @example
 * ```ts
 * SIM_QUALITY_MODELS.medium.quality; // 0.9
 * ```
 */
export const SIM_QUALITY_MODELS = {
  small: { ttftMs: 0, tokenMs: 0, quality: 0.55 },
  medium: { ttftMs: 0, tokenMs: 0, quality: 0.9 },
  large: { ttftMs: 0, tokenMs: 0, quality: 0.93 },
} as const;
