/** Shared fixtures of the loop tests: an engine on zero-delay simulated models, topologies, feedback. */
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import type { AnyTopology } from '../../src/definition/types.ts';
import { createModels, type Price } from '../../src/providers/models.ts';
import { createSimProvider } from '../../src/providers/sim.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import type { RunLoop } from '../../src/runtime/loop.ts';
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
