/** Shared fixtures of the loop tests: an engine on zero-delay simulated models, topologies, feedback. */
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import type { AnyTopology } from '../../src/definition/types.ts';
import { createModels, type Price } from '../../src/providers/models.ts';
import { createSimProvider } from '../../src/providers/sim.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import type { RunDecision, RunLoop } from '../../src/runtime/loop.ts';
import type { FeedbackLoop } from '../../src/loops/types.ts';
import type { FeedbackMessage } from '../../src/transports/messages.ts';

const ZERO = { ttftMs: 0, tokenMs: 0 };

/** An engine whose simulated models `sim:a`, `sim:b`, `sim:c`, `sim:fast` answer at once, with the given prices. */
export function simEngine(loop: RunLoop, prices: Readonly<Record<string, Price>> = {}, maxInFlight = 1024): Engine {
  const sim = createSimProvider({ models: { a: ZERO, b: ZERO, c: ZERO, d: ZERO } });
  return createEngine({ loop, maxInFlight, models: createModels({ providers: [sim], prices }) });
}

/** One llm node `answer` on `sim:a`, no experiment. */
export const plain = topology('plain', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:a', prompt: ({ input }) => input.q, maxTokens: 8 })
  .build({ output: 'answer' });

/** `answer` on `sim:a`; experiment `control` (sim:a) vs `b` (sim:b), 50/50, sticky per user. */
export function abTopology(name = 'ab', weights: { control: number; b: number } = { control: 50, b: 50 }): AnyTopology {
  return topology(name, {
    input: z.object({ q: z.string() }),
    experiment: { stickyBy: 'user', variants: { control: { weight: weights.control }, b: { weight: weights.b, nodes: { answer: { model: 'sim:b' } } } } },
  })
    .llm('answer', { model: 'sim:a', prompt: ({ input }) => input.q, maxTokens: 8 })
    .build({ output: 'answer' });
}

let n = 0;
/** A feedback message (fields overridable). */
export function fb(runId: string | null, score: number, over: Partial<FeedbackMessage> = {}): FeedbackMessage {
  return { feedbackId: `f${++n}`, topology: 'x', runId, nodeId: null, model: null, metric: 'q', score, source: 'test', ts: 0, comment: null, ...over };
}

/** The model a decision gives the `answer` node (its override's first, else the node's own). */
export function answerModel(t: AnyTopology, d: RunDecision | undefined): string {
  const m = d?.overrides?.['answer']?.model;
  if (m !== undefined) return typeof m === 'string' ? m : m[0]!;
  return t.nodes.find((n) => n.id === 'answer')?.models?.[0] ?? '';
}

/**
 * Drives a loop without an engine: decides `n` runs of `t` (user `u<i % users>`), ends each at once
 * (the `answer` node on the decided model) and, when `score` answers, feeds back one score on `metric`.
 */
export function drive(
  loop: FeedbackLoop,
  t: AnyTopology,
  n: number,
  score: (model: string, d: RunDecision | undefined, i: number) => number | undefined,
  { users = 1_000, metric = 'q', from = 0 }: { users?: number; metric?: string; from?: number } = {},
): RunDecision[] {
  const out: RunDecision[] = [];
  for (let i = from; i < from + n; i++) {
    const runId = `${t.name}-${i}`;
    const user = `u${i % users}`;
    const d = loop.decide({ topology: t, version: 'v', runId, tenant: undefined, user, input: { q: String(i) } });
    const model = answerModel(t, d);
    const now = Date.now();
    loop.ended({ runId, topology: t.name, version: 'v', status: 'completed', input: { q: String(i) }, output: 'x', startedAt: now, endedAt: now, decision: d, models: { answer: model }, tenant: undefined, user });
    const s = score(model, d, i);
    if (s !== undefined) loop.feedback(fb(runId, s, { metric }));
    if (d !== undefined) out.push(d);
  }
  return out;
}
