/**
 * Operators for `rag.yaml`: the same steps as `rag.ts`, registered by name so a
 * JSON/YAML document can use them. The CLI loads this file automatically for
 * `rag.yaml` (a sibling named `<topology>.ops.ts`).
 * @module
 */
import { z } from 'zod';
import { defineTool, type EngineOptions } from 'llm-orchestrator';
import { createRegistry } from 'llm-orchestrator/documents';
import { search, type Doc } from './support/corpus.ts';
import { simulateCompletion, type SimulatedCompletion } from './support/simulated.ts';

/** At most 4 simulated model calls at once. */
export const engineOptions: EngineOptions = { pools: { llm: 4 } };

interface Verified { best: string; sources: string[]; score: number }

export default createRegistry()
  .schema('ragInput', z.object({ question: z.string().min(3), topK: z.number().int().min(1).max(8).default(4) }))
  .tool(defineTool({
    name: 'search',
    input: z.object({ query: z.string().min(3), topK: z.number().int().min(1).max(8) }),
    run: async ({ query, topK }) => search(query, topK),
  }))
  .fanOut('noteEach', {
    items: ({ deps }: { deps: { retrieve: Doc[] } }) => deps.retrieve,
    each: async (doc: Doc, _i, ctx) => ({ id: doc.id, note: (await simulateCompletion([doc.title], { signal: ctx.signal, ttftMs: 60 })).text }),
  })
  .map('draft', ({ deps, signal, config }) =>
    simulateCompletion((deps.notes as { note: string }[]).map((n) => n.note), { signal, maxTokens: Number(config['maxTokens'] ?? 200) }))
  .map('verify', ({ deps }) => {
    const docs = deps.retrieve as Doc[];
    const best = (deps.drafts as Record<string, SimulatedCompletion>)['draftDetailed']!;
    const grounded = docs.filter((d) => best.text.includes(d.title)).length;
    return { best: best.text, sources: docs.map((d) => d.id), score: docs.length ? grounded / docs.length : 0 };
  })
  .route('verdict', ({ deps }) => ((deps.verify as Verified).score >= 0.5 ? 'publish' : 'revise'))
  .map('publish', ({ deps }) => ({ answer: (deps.verify as Verified).best, sources: (deps.verify as Verified).sources }))
  .map('revise', ({ deps }) => ({ answer: `(low confidence) ${(deps.verify as Verified).best}`, sources: (deps.verify as Verified).sources }))
  .join('first', ({ deps }) => deps['publish'] ?? deps['revise']);
