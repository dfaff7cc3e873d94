// Who a durable run is for (tenant, user, project) outlives its process: a run recovered after a
// crash, resumed by a signal in another engine, or forked from the store has its model calls checked
// by guards and attributed as the run it was started as (policies match rules on user and project,
// budgets count per project, usage groups by them). The tenant was kept before; user and project were
// lost, so a rule or budget on them no longer applied after a crash.
import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import type { Guard } from '../../src/definition/guard.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { foldRun } from '../../src/runtime/fold.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { crashingStore, until } from './helpers.ts';

const FAR = 3_600_000;
const WHO = { tenant: 'acme', user: 'u-7', project: 'search' } as const;

const twoCalls = topology('attributed')
  .llm('draft', { model: 'sim:fast', prompt: () => 'write' })
  .llm('review', { after: ['draft'], model: 'sim:fast', prompt: ({ deps }) => `review: ${deps.draft.text}` })
  .build({ output: 'review' });

const approval = topology('attributed-wait')
  .wait('ok', { name: 'ok', schema: z.boolean() })
  .llm('answer', { after: ['ok'], model: 'sim:fast', prompt: () => 'answer' })
  .build({ output: 'answer' });

/** A guard that notes who each model call is checked as, by node. */
function spy(): { guard: Guard; seen: Map<string, unknown> } {
  const seen = new Map<string, unknown>();
  return { seen, guard: { name: 'spy', call: (c) => { seen.set(c.nodeId, { tenant: c.tenant, user: c.user, project: c.project }); return { action: 'allow' }; } } };
}

describe('a durable run keeps its tenant, user and project', () => {
  it('when recovered after a crash: its run.started records them, and the calls after the crash are checked and attributed as before', async () => {
    const base = createMemoryStore();
    // crash once run.started and draft's events are stored (review never ran)
    const crashed = crashingStore(base, 3);
    const e1 = createEngine({ store: crashed, durable: { owner: 'elsewhere:1:a', leaseMs: 1_000 } });
    void e1.run(twoCalls, undefined, { runId: 'a1', ...WHO });
    await until(() => crashed.crashed);
    const log = await base.history('a1');
    expect(log[0]).toMatchObject({ type: 'run.started', user: 'u-7', project: 'search' });
    expect(foldRun(log)).toMatchObject({ user: 'u-7', project: 'search' });

    const { guard, seen } = spy();
    const e2 = createEngine({ store: base, topologies: [twoCalls], guard, durable: { now: () => Date.now() + FAR } });
    const calls: unknown[] = [];
    const runEvents: unknown[] = [];
    e2.events$.subscribe((e) => {
      if (e.type === 'model.call') calls.push({ node: e.nodeId, tenant: e.tenant, user: e.user, project: e.project });
      if (e.type === 'run.started' || e.type === 'run.completed') runEvents.push({ type: e.type, tenant: e.tenant, user: e.user });
    });
    const report = await e2.recover();
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r?.status).toBe('completed');
    expect(seen.get('review')).toEqual(WHO);
    expect(calls).toEqual([{ node: 'review', ...WHO }]);
    // the run's own events say who it is for too (the audit log files them under the tenant)
    expect(runEvents).toEqual([{ type: 'run.started', tenant: 'acme', user: 'u-7' }, { type: 'run.completed', tenant: 'acme', user: 'u-7' }]);
    await e2.shutdown();
  });

  it('when a signal resumes it in another engine, and when it is forked', async () => {
    const store = createMemoryStore();
    const e1 = createEngine({ store, topologies: [approval] });
    expect((await e1.run(approval, undefined, { runId: 'w1', ...WHO })).status).toBe('waiting');
    await e1.shutdown();

    const { guard, seen } = spy();
    const e2 = createEngine({ store, topologies: [approval], guard });
    const receipt = await e2.signal('w1', 'ok', true);
    expect((await receipt.result!).status).toBe('completed');
    expect(seen.get('answer')).toEqual(WHO);

    seen.clear();
    const fork = await e2.fork('w1', { from: 'answer', runId: 'w1-fork' });
    expect(fork.status).toBe('completed');
    expect(seen.get('answer')).toEqual(WHO);
    await e2.shutdown();
  });

  it('a run started without them records neither', async () => {
    const store = createMemoryStore();
    const e = createEngine({ store });
    await e.run(twoCalls, undefined, { runId: 'n1' });
    const [started] = await store.history('n1');
    expect(started).not.toHaveProperty('user');
    expect(started).not.toHaveProperty('project');
    expect(foldRun(await store.history('n1'))).not.toHaveProperty('user');
    await e.shutdown();
  });
});
