/**
 * Demo: human approval of an LLM draft. The (simulated) model drafts, the run waits
 * for a person's decision (a `wait` node: with a store the run is parked and holds no
 * memory), then publishes or records the rejection.
 *
 *   draft (llm) ─► approve (wait 'approval', 7 days) ─► publish
 *
 * Try it:
 *   npx llmo run topologies/approval.ts --store runs.db --input '{"topic":"RxJS"}'   # parks, prints the run id
 *   npx llmo signal <runId> approval topologies/approval.ts --store runs.db --payload '{"approved":true,"by":"ana"}'
 * @module
 */
import { z } from 'zod';
import { topology } from 'llm-orchestrator';

export default topology('approval', { input: z.object({ topic: z.string().min(1) }) })
  .llm('draft', { model: 'sim:fast', maxTokens: 24, prompt: ({ input }) => `Write a short post about ${input.topic}` })
  .wait('approve', { after: ['draft'], name: 'approval', schema: z.object({ approved: z.boolean(), by: z.string().min(1) }), timeoutMs: 7 * 86_400_000 })
  .map('publish', {
    after: ['draft', 'approve'],
    run: ({ deps }) => (deps.approve.approved ? `published (approved by ${deps.approve.by}): ${deps.draft.text}` : `not published: rejected by ${deps.approve.by}`),
  })
  .build({ output: 'publish' });
