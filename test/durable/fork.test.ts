import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import type { CompletionRequest } from '../../src/providers/types.ts';
import { createModels } from '../../src/providers/models.ts';
import { createSimProvider } from '../../src/providers/sim.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';

/** research -> outline -> draft -> polish, plus side (from research only): every model call is counted per node. */
function setup() {
  const calls: string[] = [];
  const sim = createSimProvider({
    respond: (req: CompletionRequest) => `[${req.model}] ${req.messages.map((m) => m.content).join(' | ')}`,
  });
  const models = createModels({ providers: [sim] });
  const t = topology('article', { input: z.object({ topic: z.string() }) })
    .llm('research', { model: 'sim:fast', prompt: ({ input }) => { calls.push('research'); return `research ${input.topic}`; } })
    .llm('outline', { after: ['research'], model: 'sim:fast', prompt: ({ deps }) => { calls.push('outline'); return `outline ${deps.research.text.length}`; } })
    .llm('draft', { after: ['outline'], model: 'sim:fast', system: 'write well', prompt: ({ deps }) => { calls.push('draft'); return `draft ${deps.outline.text.length}`; } })
    .map('polish', { after: ['draft'], run: ({ deps }) => { calls.push('polish'); return deps.draft.text.toUpperCase(); } })
    .map('side', { after: ['research'], run: ({ deps }) => { calls.push('side'); return deps.research.text.length; } })
    .build({ output: 'polish' });
  return { calls, models, t };
}

describe('fork', () => {
  it('with nothing overridden reproduces the original outputs and calls nothing upstream of `from`', async () => {
    const { calls, models, t } = setup();
    const store = createMemoryStore();
    const engine = createEngine({ store, models, topologies: [t] });
    const orig = await engine.run(t, { topic: 'rx' }, { runId: 'p1' });
    expect(orig.status).toBe('completed');
    calls.length = 0;
    const fork = await engine.fork('p1', { from: 'draft', runId: 'f1' });
    expect(fork.status).toBe('completed');
    expect(fork.runId).toBe('f1');
    expect(calls.sort()).toEqual(['draft', 'polish']);
    const strip = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'object' && v !== null && 'text' in v ? (v as { text: string }).text : v]));
    expect(strip(fork.outputs)).toEqual(strip(orig.outputs));
    expect(fork.output).toBe(orig.output);
    const rec = await store.getRun('f1');
    expect(rec?.forkOf).toEqual({ runId: 'p1', nodeId: 'draft' });
    const log = await store.history('f1');
    const resumed = log.filter((e) => e.type === 'node.resumed').map((e) => e.nodeId).sort();
    expect(resumed).toEqual(['outline', 'research', 'side']);
    expect(log.filter((e) => e.type === 'node.started').map((e) => e.nodeId).sort()).toEqual(['draft', 'polish']);
    // the parent is untouched
    expect((await store.getRun('p1'))?.status).toBe('completed');
    await engine.shutdown();
  });

  it('with another model (or prompt) for `from`, only `from` and its descendants change', async () => {
    const { calls, models, t } = setup();
    const store = createMemoryStore();
    const engine = createEngine({ store, models, topologies: [t] });
    const orig = await engine.run(t, { topic: 'rx' }, { runId: 'p2' });
    calls.length = 0;
    const fork = await engine.fork('p2', { from: 'outline', overrides: { nodes: { outline: { model: 'sim:default' }, draft: { prompt: 'short draft' } } } });
    expect(fork.status).toBe('completed');
    expect(calls.sort()).toEqual(['outline', 'polish']); // draft ran too, with its prompt replaced (its prompt function not called)
    const o = orig.outputs as Record<string, { text: string } & Record<string, unknown>>;
    const f = fork.outputs as Record<string, { text: string } & Record<string, unknown>>;
    expect(f['research']!.text).toBe(o['research']!.text);
    expect(f['side']).toBe(orig.outputs['side']);
    expect(f['outline']!.text.startsWith('[default] ')).toBe(true);
    expect(o['outline']!.text.startsWith('[fast] ')).toBe(true);
    expect(f['draft']!.text).toBe('[fast] write well | short draft');
    expect(fork.output).not.toBe(orig.output);
    await engine.shutdown();
  });

  it('pins outputs, refuses bad options naming the field, and forks from a fork', async () => {
    const { models, t } = setup();
    const store = createMemoryStore();
    const engine = createEngine({ store, models, topologies: [t] });
    await engine.run(t, { topic: 'rx' }, { runId: 'p3' });
    const pinned = await engine.fork('p3', { from: 'draft', runId: 'f3', overrides: { outputs: { outline: { text: 'PINNED' } } } });
    expect((pinned.outputs as Record<string, { text: string }>)['draft']!.text).toBe('[fast] write well | draft 6');
    await expect(engine.fork('p3', { from: 'nope' })).rejects.toMatchObject({ code: 'FORK_INVALID', issues: [{ path: ['from'] }] });
    await expect(engine.fork('p3', { from: 'outline', overrides: { outputs: { draft: 1 } } })).rejects.toMatchObject({ code: 'FORK_INVALID', issues: [{ path: ['overrides', 'outputs', 'draft'] }] });
    await expect(engine.fork('zz', { from: 'draft' })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    const again = await engine.fork('f3', { from: 'polish' });
    expect(again.output).toBe(pinned.output);
    expect((await store.getRun(again.runId))?.forkOf).toEqual({ runId: 'f3', nodeId: 'polish' });
    await engine.shutdown();
  });
});
