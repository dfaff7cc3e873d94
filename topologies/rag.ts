/**
 * Demo: a RAG-shaped topology. On the embedded default its model is SIMULATED
 * (no keys, no services); with OPENAI_API_KEY / OPENAI_BASE_URL / ANTHROPIC_API_KEY
 * set, the CLI points the `default` model at a real provider.
 *
 *   retrieve ─► notes (fan-out per doc) ─┬─► draftConcise (llm) ─────────────┐
 *                                        └─► draftDetailed (llm) ─┬──────────┴─► drafts (join) ─► verify ─► verdict (route)
 *                                                                 └─► guard (reads its tokens live, may stop it)
 *   verdict: publish ─► answer (join)  |  revise ─► answer
 *
 * Run it: `npm start`, or `npx llmo run topologies/rag.ts --input '{"question":"..."}'`.
 * @module
 */
import { z } from 'zod';
import { defineTool, topology, type EngineOptions } from 'llm-orchestrator';
import { search } from './support/corpus.ts';

/** Engine settings the CLI uses for this topology: at most 4 model calls at once. */
export const engineOptions: EngineOptions = { pools: { llm: 4 } };

const searchTool = defineTool({
  name: 'search',
  description: 'Keyword search over the demo corpus',
  input: z.object({ query: z.string().min(3), topK: z.number().int().min(1).max(8) }),
  output: z.array(z.object({ id: z.string(), title: z.string(), text: z.string() })),
  run: async ({ query, topK }) => search(query, topK),
});

const BANNED = /\b(password|secret key)\b/i;

/** The demo topology. */
export const rag = topology('rag', {
  input: z.object({ question: z.string().min(3), topK: z.number().int().min(1).max(8).default(4) }),
  description: 'Retrieve, draft twice in parallel with a live guard, verify, route',
  maxInFlight: 64,
})
  .tool('retrieve', { tool: searchTool, args: ({ input }) => ({ query: input.question, topK: input.topK }) })
  .fanOut('notes', {
    after: ['retrieve'],
    items: ({ deps }) => deps.retrieve,
    each: (doc) => ({ id: doc.id, note: `${doc.title}: ${doc.text.split(/(?<=\.)\s/)[0]}` }),
    itemCap: 3,
  })
  .llm('draftConcise', {
    after: ['notes'],
    model: 'default',
    pool: 'llm',
    timeoutMs: 60_000,
    maxTokens: 40,
    system: 'Answer in two sentences, using only the notes.',
    prompt: ({ input, deps }) => `Notes:\n${deps.notes.map((n) => `- ${n.note}`).join('\n')}\n\nQuestion: ${input.question}`,
  })
  .llm('draftDetailed', {
    after: ['notes'],
    model: 'default',
    pool: 'llm',
    timeoutMs: 60_000,
    maxTokens: 120,
    system: 'Answer thoroughly, citing the notes by title.',
    prompt: ({ input, deps }) => `Notes:\n${deps.notes.map((n) => `- ${n.note}`).join('\n')}\n\nQuestion: ${input.question}`,
  })
  // A streaming consumer: starts with draftDetailed, reads its tokens as they arrive, and stops it on a banned phrase.
  .map('guard', {
    streamFrom: 'draftDetailed',
    run: (ctx) =>
      new Promise<{ tokensSeen: number; stopped: boolean }>((resolve, reject) => {
        let text = '';
        let seen = 0;
        ctx.tokens('draftDetailed').subscribe({
          next: (chunk) => {
            if (chunk.kind === 'restart') { text = ''; seen = 0; return; }
            text += chunk.text;
            seen++;
            if (BANNED.test(text)) {
              ctx.stop('draftDetailed', 'guard: banned phrase');
              resolve({ tokensSeen: seen, stopped: true });
            }
          },
          error: reject,
          complete: () => resolve({ tokensSeen: seen, stopped: false }),
        });
      }),
  })
  .join('drafts', { after: ['draftConcise', 'draftDetailed', 'guard'] })
  .map('verify', {
    after: ['drafts', 'retrieve'],
    run: ({ deps }) => {
      const detailed = deps.drafts.draftDetailed;
      const best = detailed !== undefined && !deps.drafts.guard?.stopped ? detailed : deps.drafts.draftConcise!;
      const words = new Set(best.text.toLowerCase().match(/[a-z]{5,}/g) ?? []);
      const grounded = deps.retrieve.filter((d) => (d.text.toLowerCase().match(/[a-z]{5,}/g) ?? []).some((w) => words.has(w))).length;
      return {
        best: best.text,
        model: best.model,
        simulated: best.simulated,
        sources: deps.retrieve.map((d) => d.id),
        score: deps.retrieve.length === 0 ? 0 : grounded / deps.retrieve.length,
      };
    },
  })
  .route('verdict', {
    after: ['verify'],
    branches: { publish: 'publish', revise: 'revise' },
    select: ({ deps }) => (deps.verify.score >= 0.5 ? 'publish' : 'revise'),
  })
  .map('publish', { after: ['verify'], run: ({ deps }) => ({ ...deps.verify, answer: deps.verify.best }) })
  .map('revise', {
    after: ['verify'],
    run: ({ deps }) => ({
      ...deps.verify,
      answer: deps.verify.sources.length === 0 ? 'I found nothing in the corpus about that question.' : `(low confidence) ${deps.verify.best}`,
    }),
  })
  .join('answer', {
    after: ['publish', 'revise'],
    run: ({ deps }) => {
      const a = (deps.publish ?? deps.revise)!;
      return { answer: a.answer, sources: a.sources, confidence: a.score, model: a.simulated ? `${a.model} (SIMULATED)` : a.model };
    },
  })
  .build({ output: 'answer' });

export default rag;
