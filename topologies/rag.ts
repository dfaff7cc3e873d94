/**
 * Demo: a RAG-shaped topology on the embedded default (a SIMULATED model, no
 * keys, no services).
 *
 *   retrieve ─► notes (fan-out per doc) ─┬─► draftConcise ─┐
 *                                        └─► draftDetailed ─┴─► drafts (join) ─► verify ─► verdict (route)
 *                                                 verdict: publish ─► answer (join)  |  revise ─► answer
 *
 * Run it: `npm start`, or `npx llmo run topologies/rag.ts --input '{"question":"..."}'`.
 * @module
 */
import { z } from 'zod';
import { defineTool, topology, type EngineOptions } from '../src/index.ts';
import { search, type Doc } from './support/corpus.ts';
import { simulateCompletion } from './support/simulated.ts';

/** Engine settings the CLI uses for this topology: at most 4 model calls at once. */
export const engineOptions: EngineOptions = { pools: { llm: 4 } };

const searchTool = defineTool({
  name: 'search',
  description: 'Keyword search over the demo corpus',
  input: z.object({ query: z.string().min(3), topK: z.number().int().min(1).max(8) }),
  output: z.array(z.object({ id: z.string(), title: z.string(), text: z.string() })),
  run: async ({ query, topK }) => search(query, topK),
});

const firstSentence = (d: Doc): string => d.text.split(/(?<=\.)\s/)[0] ?? d.text;

/** The demo topology. */
export const rag = topology('rag', {
  input: z.object({ question: z.string().min(3), topK: z.number().int().min(1).max(8).default(4) }),
  description: 'Retrieve, draft twice in parallel, verify, route (runs on a SIMULATED model)',
  maxInFlight: 64,
})
  .tool('retrieve', { tool: searchTool, args: ({ input }) => ({ query: input.question, topK: input.topK }) })
  .fanOut('notes', {
    after: ['retrieve'],
    items: ({ deps }) => deps.retrieve,
    each: async (doc, _i, ctx) => {
      const c = await simulateCompletion([`${doc.title}: ${firstSentence(doc)}`], { signal: ctx.signal, ttftMs: 60, tokenMs: 2 });
      return { id: doc.id, note: c.text };
    },
    itemCap: 3,
    pool: 'llm',
  })
  .map('draftConcise', {
    after: ['notes'],
    pool: 'llm',
    timeoutMs: 10_000,
    run: ({ deps, signal }) => simulateCompletion(deps.notes.slice(0, 2).map((n) => n.note), { signal, maxTokens: 40 }),
  })
  .map('draftDetailed', {
    after: ['notes'],
    pool: 'llm',
    timeoutMs: 10_000,
    run: ({ deps, signal }) => simulateCompletion(deps.notes.map((n) => n.note), { signal, ttftMs: 180 }),
  })
  .join('drafts', { after: ['draftConcise', 'draftDetailed'] })
  .map('verify', {
    after: ['drafts', 'retrieve'],
    run: ({ deps }) => {
      const sources = deps.retrieve.map((d) => d.id);
      const candidates = [deps.drafts.draftDetailed, deps.drafts.draftConcise].filter((d) => d !== undefined);
      const best = candidates[0]!;
      const grounded = deps.retrieve.filter((d) => best.text.includes(d.title)).length;
      return { best: best.text, sources, score: sources.length === 0 ? 0 : grounded / sources.length };
    },
  })
  .route('verdict', {
    after: ['verify'],
    branches: { publish: 'publish', revise: 'revise' },
    select: ({ deps }) => (deps.verify.score >= 0.5 ? 'publish' : 'revise'),
  })
  .map('publish', { after: ['verify'], run: ({ deps }) => ({ answer: deps.verify.best, sources: deps.verify.sources, confidence: deps.verify.score }) })
  .map('revise', {
    after: ['verify'],
    run: ({ deps }) => ({
      answer: deps.verify.sources.length === 0
        ? 'I found nothing in the corpus about that question.'
        : `(low confidence) ${deps.verify.best}`,
      sources: deps.verify.sources,
      confidence: deps.verify.score,
    }),
  })
  .join('answer', { after: ['publish', 'revise'], run: ({ deps }) => (deps.publish ?? deps.revise)! })
  .build({ output: 'answer' });

export default rag;
