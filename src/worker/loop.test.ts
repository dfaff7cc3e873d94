// A worker's feedback loop on the memory transport: policies applied before the first request and live,
// refused ones dead-lettered once with the reason, feedback to every worker of a group, evaluation requests
// and experience records published, the outbox's failures counted and on the health board.
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, createModels, createSimProvider, isValidationError, OrchestratorError, topology } from '../index.ts';
import { silentLogger } from '../logger.ts';
import { createHealthBoard } from '../transports/health.ts';
import { createMemoryTransport } from '../transports/index.ts';
import type { FeedbackMessage, Messages, PolicyUpdateMessage } from '../transports/messages.ts';
import type { Envelope, Transport } from '../transports/transport.ts';
import { createFakeLoop, type FakeLoop } from '../../test/kafka/fake-loop.ts';
import { createClient, createWorker } from './index.ts';
import { createOutbox } from './outbox.ts';
import { createLoop } from '../loops/loop.ts';

const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:cheap', prompt: ({ input }) => input.q, maxTokens: 4 })
  .build({ output: 'answer' });

const models = (): ReturnType<typeof createModels> => createModels({
  providers: [createSimProvider({ models: { cheap: { ttftMs: 0, tokenMs: 0 }, good: { ttftMs: 0, tokenMs: 0 } } })],
});

const policy = (version: number, nodes: unknown, target = 'qa'): PolicyUpdateMessage => ({
  policyId: `p${version}`, version, target, params: { nodes: JSON.stringify(nodes) }, reason: null, ts: 1_000 + version,
});

const feedback = (runId: string, score: number, id = `fb-${runId}`): FeedbackMessage => ({
  feedbackId: id, topology: 'qa', runId, nodeId: null, model: null, metric: 'correct', score, source: 'test', ts: 5, comment: null, label: null,
});

/** What the memory transport holds of a kind now (its reads replay synchronously). */
function readAll<K extends 'deadLetter' | 'evaluation' | 'experience'>(transport: Transport, kind: K): Envelope<Messages[K]>[] {
  const out: Envelope<Messages[K]>[] = [];
  transport.read(kind, { fromBeginning: true }).subscribe((m) => out.push(m)).unsubscribe();
  return out;
}

function serve(transport: Transport, loop: FakeLoop, workerId: string) {
  const engine = createEngine({ models: models(), loop });
  const worker = createWorker({ engine, transport, topologies: [qa], loop, workerId, publish: false });
  return { engine, worker };
}

describe('a worker with a feedback loop (memory transport)', () => {
  it('applies the policies on the topic before its first request; a refused update is dead-lettered once with the reason and the previous version stays', async () => {
    const transport = createMemoryTransport();
    await transport.send('policy', [
      { key: 'qa', value: policy(1, { answer: { temperature: 0.5 } }) },
      { key: 'qa', value: policy(2, { answer: { model: 'sim:good' } }) },
      { key: 'qa', value: policy(3, { nope: { model: 'sim:good' } }) },
    ]);
    const loop = createFakeLoop({ topology: 'qa', nodes: ['answer'] });
    const { engine, worker } = serve(transport, loop, 'w1');
    await worker.start();
    expect(loop.policies('qa').map((p) => p.version)).toEqual([2]);
    const client = createClient(transport);
    const r = await client.submit('qa', { q: 'hi' });
    expect(r.status).toBe('completed');
    expect(loop.decided[0]!.decision.policyVersion).toBe(2);
    expect(loop.decided[0]!.decision.overrides?.answer).toEqual({ model: 'sim:good' });

    // live: a new version applies to the next run
    await transport.send('policy', [{ key: 'qa', value: policy(4, { answer: { model: 'sim:cheap' } }) }]);
    expect(loop.policies('qa')[0]!.version).toBe(4);
    await client.submit('qa', { q: 'again' });
    expect(loop.decided[1]!.decision.policyVersion).toBe(4);

    const dead = readAll(transport, 'deadLetter');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.value.topic).toBe('llmo.policies');
    expect(dead[0]!.value.offset).toBe('2');
    expect(dead[0]!.value.reason).toContain('policy update qa v3 (p3) refused by the loop; the previous version stays');
    expect(dead[0]!.value.reason).toContain("params.nodes.nope: no llm node 'nope' in qa");
    expect(worker.loopStats).toMatchObject({ policiesApplied: 3, policiesRefused: 1 });
    await client.close();
    await worker.stop();
    await engine.shutdown();
    await transport.close();
  });

  it('every worker of a group sees every feedback message: each joins its own runs and counts the others unknown_run', async () => {
    const transport = createMemoryTransport();
    const loops = [createFakeLoop({ topology: 'qa', nodes: ['answer'] }), createFakeLoop({ topology: 'qa', nodes: ['answer'] })];
    const served = loops.map((l, i) => serve(transport, l, `w${i}`));
    for (const s of served) await s.worker.start();
    expect(served[0]!.worker.group).toBe(served[1]!.worker.group);
    const client = createClient(transport);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => client.submit('qa', { q: `q${i}` })));
    await transport.send('feedback', results.map((r) => ({ key: r.runId, value: feedback(r.runId, 1) })));
    for (const l of loops) expect(l.counters().received).toBe(6);
    expect(loops[0]!.counters().joined + loops[1]!.counters().joined).toBe(6);
    expect(loops[0]!.counters().unknown_run + loops[1]!.counters().unknown_run).toBe(6);
    for (const s of served) expect(s.worker.loopStats!.feedback).toBe(6);
    await client.close();
    for (const s of served) {
      await s.worker.stop();
      await s.engine.shutdown();
    }
    await transport.close();
  });

  it('feedback of its runs steers the bandit; evaluation requests and experience records go to their topics', async () => {
    const transport = createMemoryTransport();
    const loop = createFakeLoop({ topology: 'qa', nodes: ['answer'], bandit: { node: 'answer', models: ['sim:cheap', 'sim:good'], metric: 'correct' } });
    const { engine, worker } = serve(transport, loop, 'w1');
    const seen: FeedbackMessage[] = [];
    worker.feedback$.subscribe((f) => seen.push(f));
    await worker.start();
    const client = createClient(transport);
    const first = [await client.submit('qa', { q: 'a' }), await client.submit('qa', { q: 'b' })];
    expect(loop.decided.map((d) => d.decision.arms?.answer)).toEqual(['sim:cheap', 'sim:good']);
    // the judge rewards sim:good only
    await transport.send('feedback', first.map((r, i) => ({ key: r.runId, value: feedback(r.runId, i === 1 ? 1 : 0) })));
    for (let i = 0; i < 4; i++) await client.submit('qa', { q: `c${i}` });
    expect(loop.decided.slice(2).map((d) => d.decision.arms?.answer)).toEqual(['sim:good', 'sim:good', 'sim:good', 'sim:good']);
    expect(seen.map((f) => f.runId)).toEqual(first.map((r) => r.runId));

    await worker.stop();
    const evaluations = await firstValueFrom(transport.read('evaluation', { fromBeginning: true }).pipe(take(6), toArray()));
    expect(evaluations.map((e) => e.key)).toEqual(loop.decided.map((d) => d.runId));
    expect(evaluations[1]!.value).toMatchObject({ evaluationId: first[1]!.runId, topology: 'qa', models: { answer: 'sim:good' }, arms: { answer: 'sim:good' }, status: 'completed', input: '{"q":"b"}' });
    const experience = await firstValueFrom(transport.read('experience', { fromBeginning: true }).pipe(take(2), toArray()));
    expect(experience.map((x) => [x.value.arm, x.value.reward])).toEqual([['sim:cheap', 0], ['sim:good', 1]]);
    expect(worker.loopStats).toMatchObject({ evaluations: 6, experience: 2, lost: 0, feedback: 2 });
    await client.close();
    await engine.shutdown();
    await transport.close();
  });

  it('refuses a loop without inbound topics, and what is not a loop, naming the option', () => {
    const transport = createMemoryTransport();
    const loop = createFakeLoop({ topology: 'qa', nodes: ['answer'] });
    const engine = createEngine({ loop });
    const bad = (f: () => unknown): unknown => { try { f(); return undefined; } catch (e) { return e; } };
    const e1 = bad(() => createWorker({ engine, transport, topologies: [qa], loop, inbound: false }));
    expect(isValidationError(e1) && e1.issues.map((i) => i.path.join('.'))).toEqual(['options.inbound']);
    const e2 = bad(() => createWorker({ engine, transport, topologies: [qa], loop: {} as FakeLoop }));
    expect(isValidationError(e2) && e2.issues.map((i) => i.path.join('.'))).toEqual(['options.loop']);
  });
});

describe('createOutbox', () => {
  it('sends in order, counts what fails after the retries as lost, and reports it on the health board', async () => {
    const board = createHealthBoard();
    const sent: string[] = [];
    let failing = false;
    const transport = {
      send: async (kind: string, messages: readonly { key: string }[]) => {
        if (failing) throw new OrchestratorError('KAFKA_UNREACHABLE', 'no broker', { retriable: true });
        sent.push(...messages.map((m) => `${kind}:${m.key}`));
      },
    } as unknown as Transport;
    const outbox = createOutbox(transport, { logger: silentLogger, health: board, retries: 1, retryDelayMs: 1, maxQueued: 2 });
    const evaluation = { evaluationId: 'r1', runId: 'r1', nodeId: null, topology: 'qa', version: 'v', variant: null, policyVersion: null, promptVersion: null,
      models: {}, arms: {}, input: '{}', output: '""', status: 'completed' as const, latencyMs: 1, inputTokens: 1, outputTokens: 1, costUsd: 0, tenant: null, user: null, ts: 1 };
    outbox.push('evaluation', 'r1', evaluation);
    outbox.push('experience', 'r1', { runId: 'r1', topology: 'qa', decision: 'answer', arm: 'a', context: '{}', metric: 'm', quality: 1, costUsd: 0, reward: 1, ts: 1 });
    outbox.push('evaluation', 'r2', { ...evaluation, runId: 'r2', evaluationId: 'r2' });
    let admitted = false;
    const ready = outbox.ready().then(() => { admitted = true; });
    expect(admitted).toBe(false); // 3 queued, high-water mark 2
    await outbox.flush();
    await ready;
    expect(sent).toEqual(['evaluation:r1', 'experience:r1', 'evaluation:r2']);
    expect(outbox.sent).toEqual({ evaluation: 2, experience: 1 });
    expect(board.report().components['loop.publisher']?.status).toBe('up');
    failing = true;
    outbox.push('evaluation', 'r3', { ...evaluation, runId: 'r3', evaluationId: 'r3' });
    await outbox.flush();
    expect(outbox.lost).toBe(1);
    const part = board.report().components['loop.publisher'];
    expect(part?.status).toBe('down');
    expect(part?.reason).toContain('1 evaluation message(s) lost (1 so far): no broker');
  });
});

describe('a worker with createLoop (memory transport)', () => {
  it('boots with the valid policies, dead-letters what the loop refuses with its issues, and its bandit learns from feedback', async () => {
    const transport = createMemoryTransport();
    const bandit = JSON.stringify({ answer: { arms: { cheap: { model: 'sim:cheap' }, good: { model: 'sim:good' } }, metric: 'correct' } });
    await transport.send('policy', [
      { key: 'qa', value: { policyId: 'a', version: 1, target: 'qa', params: { nodes: '{"answer":{"model":"sim:good"}}' }, reason: null, ts: 1 } },
      { key: 'qa', value: { policyId: 'b', version: 2, target: 'qa', params: { nodes: '{"nope":{"model":"sim:good"}}' }, reason: null, ts: 2 } },
      { key: 'qa', value: { policyId: 'c', version: 2, target: 'qa', params: { bandits: bandit }, reason: null, ts: 3 } },
    ]);
    const loop = createLoop({ topologies: [qa], seed: 3 });
    const engine = createEngine({ models: models(), loop });
    const worker = createWorker({ engine, transport, topologies: [qa], loop, publish: false });
    await worker.start();
    expect(loop.policies('qa').map((p) => p.version)).toEqual([2]);
    const dead = readAll(transport, 'deadLetter');
    expect(dead.map((d) => d.value.offset)).toEqual(['1']);
    expect(dead[0]!.value.reason).toContain("document.nodes.nope: overrides missing node 'nope' of topology 'qa'");

    const client = createClient(transport);
    const chosen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await client.submit('qa', { q: `q${i}` });
      const req = readAll(transport, 'evaluation').find((e) => e.value.runId === r.runId)!.value;
      expect(req.policyVersion).toBe(2);
      chosen.push(req.arms['answer']!);
      await transport.send('feedback', [{ key: r.runId, value: feedback(r.runId, req.models['answer'] === 'sim:good' ? 1 : 0, `f${i}`) }]);
    }
    expect(loop.counters()).toMatchObject({ received: 40, joined: 40 });
    expect(chosen.slice(-10).filter((a) => a === 'good').length).toBeGreaterThanOrEqual(9);
    await worker.stop();
    expect(worker.loopStats).toMatchObject({ policiesApplied: 2, policiesRefused: 1, feedback: 40, evaluations: 40, lost: 0 });
    expect(readAll(transport, 'experience').length).toBe(40);
    await client.close();
    await engine.shutdown();
    await transport.close();
  });
});
