// Signals over the memory transport: a worker with a run store answers a request whose run parks with an interim
// RUN_PARKED result, a signal message resumes the run and its final result follows under the same request id;
// a duplicate signal is acknowledged and counted; invalid ones are dead-lettered (naming the field) with a
// `signal.rejected` event; a signal recorded but left unclaimed (its signaller died) is resumed from a redelivery;
// a signal that arrives before its run reached the wait waits for it.
import { firstValueFrom, filter } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../index.ts';
import type { RunStore } from '../runtime/store.ts';
import { createMemoryStore } from '../stores/memory.ts';
import { createMemoryTransport, type Envelope } from '../transports/index.ts';
import { isParkedResult, SIGNAL_REJECTED, type DeadLetterMessage, type LifecycleEventMessage } from '../transports/messages.ts';
import { createClient, createWorker } from './index.ts';

/** draft → approve (wait 'approval') → publish; `gate` holds the draft when given. */
function approval(gate?: Promise<void>) {
  return topology('approval', { input: z.object({ topic: z.string() }) })
    .map('draft', { run: async ({ input }) => { await gate; return `a post about ${input.topic}`; } })
    .wait('approve', { after: ['draft'], name: 'approval', schema: z.object({ approved: z.boolean(), by: z.string().min(1) }), timeoutMs: 86_400_000 })
    .map('publish', { after: ['draft', 'approve'], run: ({ deps }) => (deps.approve.approved ? `published by ${deps.approve.by}: ${deps.draft}` : 'rejected') })
    .build({ output: 'publish' });
}

async function setup(t = approval(), store: RunStore = createMemoryStore()) {
  const transport = createMemoryTransport();
  const engine = createEngine({ store, topologies: [t], durable: { owner: 'worker-a', leaseMs: 60_000 } });
  const worker = createWorker({ engine, transport, topologies: [t], inbound: false, lingerMs: 0, heldWaitMs: 5_000 });
  await worker.start();
  const client = createClient(transport);
  const deadLetters: DeadLetterMessage[] = [];
  const events: LifecycleEventMessage[] = [];
  const subs = [
    transport.read('deadLetter', { fromBeginning: true }).subscribe((m: Envelope<DeadLetterMessage>) => deadLetters.push(m.value)),
    transport.read('event', { fromBeginning: true }).subscribe((m) => { if (m.value.type === SIGNAL_REJECTED) events.push(m.value); }),
  ];
  return {
    t, store, transport, engine, worker, client, deadLetters, events,
    close: async () => {
      for (const s of subs) s.unsubscribe();
      await client.close();
      await worker.stop();
      await engine.shutdown({ mode: 'cancel' });
      await transport.close();
    },
  };
}

const until = async (what: string, ok: () => boolean | Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
};

describe('signals over the memory transport', () => {
  it('a parked request is answered RUN_PARKED, a signal message resumes it and its final result follows; a duplicate is harmless', async () => {
    const s = await setup();
    try {
      const interim = await s.client.submit('approval', { topic: 'RxJS' }, { requestId: 'req-1' });
      expect(isParkedResult(interim)).toBe(true);
      expect(interim).toMatchObject({ requestId: 'req-1', runId: 'req-1', status: 'failed' });
      expect((await s.store.getRun('req-1'))?.status).toBe('waiting');
      expect(await s.client.result('req-1')).toBe(interim); // the first answer
      const final = s.client.result('req-1', { final: true });
      const signalId = await s.client.signal('req-1', 'approval', { approved: true, by: 'ana' });
      const r = await final;
      expect(r).toMatchObject({ requestId: 'req-1', runId: 'req-1', status: 'completed', error: null });
      expect(JSON.parse(r.output!)).toBe('published by ana: a post about RxJS');
      expect(s.client.results.get('req-1')).toBe(r); // the final result replaced the interim one
      expect(s.client.duplicates).toBe(0);
      expect(s.worker.signals).toMatchObject({ resumed: 1, duplicates: 0, rejected: 0 });

      // the same signal again (a redelivery, or a resend under its id): acknowledged, counted, nothing runs or is published
      const received = s.client.received;
      await s.client.signal('req-1', 'approval', { approved: false, by: 'bob' }, { signalId });
      await until('the duplicate counted', () => s.worker.signals.duplicates === 1);
      expect(s.client.received).toBe(received);
      expect(s.deadLetters).toEqual([]);
      expect((await s.store.history('req-1')).filter((e) => e.type === 'run.signalled')).toHaveLength(1);
      expect((await s.store.getRun('req-1'))?.output).toBe('published by ana: a post about RxJS');
    } finally {
      await s.close();
    }
  });

  it('submit({ final: true }) waits past the interim answer', async () => {
    const s = await setup();
    try {
      const done = s.client.submit('approval', { topic: 'waits' }, { requestId: 'req-f', final: true });
      await until('parked', async () => (await s.store.getRun('req-f'))?.status === 'waiting');
      await s.client.signal('req-f', 'approval', { approved: false, by: 'eve' });
      expect(await done).toMatchObject({ status: 'completed', output: '"rejected"' });
    } finally {
      await s.close();
    }
  });

  it('an invalid payload is dead-lettered naming the field, with a signal.rejected event; the run still waits and a valid signal resumes it', async () => {
    const s = await setup();
    try {
      await s.client.submit('approval', { topic: 'x' }, { requestId: 'req-2' });
      await s.client.signal('req-2', 'approval', { approved: 'yes', by: 'ana' });
      await until('dead-lettered', () => s.deadLetters.length === 1);
      expect(s.deadLetters[0]!.topic).toBe(s.transport.topics.signal);
      expect(s.deadLetters[0]!.reason).toMatch(/SIGNAL_INVALID/);
      expect(s.deadLetters[0]!.reason).toMatch(/payload\.approved/);
      await until('the rejection event', () => s.events.length === 1);
      expect(s.events[0]).toMatchObject({ runId: 'req-2', type: SIGNAL_REJECTED, nodeId: 'approve', requestId: 'req-2' });
      expect(JSON.parse(s.events[0]!.data)).toMatchObject({ name: 'approval', code: 'SIGNAL_INVALID', issues: [{ path: ['payload', 'approved'] }] });
      expect(s.worker.signals.rejected).toBe(1);
      expect((await s.store.getRun('req-2'))?.status).toBe('waiting');

      const final = s.client.result('req-2', { final: true });
      await s.client.signal('req-2', 'approval', { approved: true, by: 'ana' });
      expect((await final).status).toBe('completed');
    } finally {
      await s.close();
    }
  });

  it('a signal for an unknown run, another wait name, or a payload that is not JSON is dead-lettered with the reason', async () => {
    const s = await setup();
    try {
      await s.client.signal('nobody', 'approval', { approved: true, by: 'ana' });
      await until('dead-lettered', () => s.deadLetters.length === 1);
      expect(s.deadLetters[0]!.reason).toMatch(/RUN_NOT_FOUND: .*'nobody'/);
      expect(s.events).toEqual([]); // no run to tell

      await s.client.submit('approval', { topic: 'y' }, { requestId: 'req-3' });
      await s.client.signal('req-3', 'review', { ok: true });
      await until('dead-lettered', () => s.deadLetters.length === 2);
      expect(s.deadLetters[1]!.reason).toMatch(/WAIT_NAME_MISMATCH/);

      await s.transport.send('signal', [{ key: 'req-3', value: { signalId: 'raw', runId: 'req-3', name: 'approval', payload: '{nope', ts: Date.now() } }]);
      await until('dead-lettered', () => s.deadLetters.length === 3);
      expect(s.deadLetters[2]!.reason).toMatch(/payload: must be JSON text/);
      expect((await s.store.getRun('req-3'))?.status).toBe('waiting');
    } finally {
      await s.close();
    }
  });

  it('a signal recorded but never claimed (its signaller died) is resumed from a redelivery', async () => {
    const s = await setup();
    try {
      await s.client.submit('approval', { topic: 'z' }, { requestId: 'req-4' });
      const rec = (await s.store.getRun('req-4'))!;
      // what a dead signaller left: run.signalled appended, the run not claimed
      await s.store.append([{ runId: 'req-4', seq: rec.lastSeq + 1, ts: Date.now(), type: 'run.signalled', nodeId: 'approve', name: 'approval', payload: { approved: true, by: 'ana' } }]);
      const final = s.client.result('req-4', { final: true });
      await s.client.signal('req-4', 'approval', { approved: true, by: 'ana' });
      expect(await final).toMatchObject({ status: 'completed', output: '"published by ana: a post about z"' });
      expect(s.worker.signals.resumed).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('a signal that arrives before its run reached the wait waits for it', async () => {
    let open!: () => void;
    const s = await setup(approval(new Promise<void>((r) => (open = r))));
    try {
      const tokens = firstValueFrom(s.client.tokens('req-5').pipe(filter((e) => e.type === 'result')));
      const interim = s.client.submit('approval', { topic: 'early' }, { requestId: 'req-5' });
      await until('running', async () => (await s.store.getRun('req-5'))?.status === 'running');
      const final = s.client.result('req-5', { final: true });
      await s.client.signal('req-5', 'approval', { approved: true, by: 'ana' });
      await new Promise((r) => setTimeout(r, 30));
      expect(s.worker.signals).toMatchObject({ resumed: 0, duplicates: 0, rejected: 0 }); // still waiting for the run to park
      open();
      expect(isParkedResult(await interim)).toBe(true);
      expect(await final).toMatchObject({ status: 'completed', output: '"published by ana: a post about early"' });
      expect(await tokens).toMatchObject({ type: 'result', result: { status: 'failed' } }); // a follow ends at the first answer
    } finally {
      await s.close();
    }
  });
});
