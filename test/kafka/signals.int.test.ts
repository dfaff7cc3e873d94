// Signals over Kafka (issue 11, item 3): a `llmo worker --store postgres://…?schema=<fresh>` process serves
// topologies/approval.ts on the real broker. A request parks on its wait (the client's first answer is the interim
// RUN_PARKED result); a message on the signals topic resumes the run on the worker and the client gets the final,
// completed result under the same request id. A signal whose payload the wait's schema refuses is dead-lettered
// naming the field (and a `signal.rejected` event says so); a duplicate signal is acknowledged and changes nothing;
// `llmo signal --brokers … --wait` sends one from the CLI and prints the final result.
import { randomBytes } from 'node:crypto';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunStore } from '../../src/runtime/store.ts';
import { openStore } from '../../src/stores/open.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { isParkedResult, SIGNAL_REJECTED, type DeadLetterMessage, type LifecycleEventMessage } from '../../src/transports/messages.ts';
import { createClient, type Client } from '../../src/worker/client.ts';
import { deleteTopics, rawKafka, uniquePrefix, waitFor, llmo, type LlmoProcess } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const pgUrl: string = inject('pgUrl');


describe.skipIf(!brokers || pgUrl === '')('signals over Kafka: a worker with a Postgres store resumes a parked run from a signal message', () => {
  const prefix = uniquePrefix('it-sig');
  const schema = `llmo_sig_${process.pid}_${randomBytes(3).toString('hex')}`;
  const storeUrl = (() => {
    if (pgUrl === '') return '';
    const u = new URL(pgUrl);
    u.searchParams.set('schema', schema);
    return u.toString();
  })();
  const kafkaArgs = ['--brokers', brokers ?? '', '--prefix', prefix];
  const transport = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'signals-int' });
  let worker: LlmoProcess | undefined;
  let client: Client | undefined;
  let store: RunStore | undefined;
  const deadLetters: DeadLetterMessage[] = [];
  const rejections: LifecycleEventMessage[] = [];
  const subs: Subscription[] = [];

  beforeAll(async () => {
    await transport.ensureTopics();
    store = await openStore(storeUrl); // migrations run here, in the fresh schema
    worker = llmo(['worker', 'topologies/approval.ts', ...kafkaArgs, '--store', storeUrl, '--max-in-flight', '4']);
    await waitFor(() => /worker \S+ serving 'approval'/.test(worker!.err()) || worker!.child.exitCode !== null, 'the worker to serve', 90_000, 50);
    expect(worker.child.exitCode, worker.err()).toBeNull();
    client = createClient(transport);
    await client.ready();
    let ready = 0;
    await new Promise<void>((resolve) => {
      const positioned = (): void => { if (++ready === 2) resolve(); };
      subs.push(transport.read('deadLetter', { fromBeginning: false, onReady: positioned }).subscribe((m) => deadLetters.push(m.value)));
      subs.push(transport.read('event', { fromBeginning: false, onReady: positioned }).subscribe((m) => { if (m.value.type === SIGNAL_REJECTED) rejections.push(m.value); }));
    });
  }, 120_000);

  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    await client?.close();
    if (worker !== undefined && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    }
    await store?.close();
    await transport.close();
    await deleteTopics(rawKafka(brokers ?? '', 'signals-int-admin'), prefix);
    if (pgUrl !== '') {
      const pg = (await import('pg')).default;
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  }, 120_000);

  it('a request parks (RUN_PARKED), an invalid signal is dead-lettered naming the field, a valid one resumes it, a duplicate is harmless', async () => {
    const c = client!;
    const interim = await c.submit('approval', { topic: 'RxJS' }, { requestId: `${prefix}-r1` });
    expect(isParkedResult(interim), interim.error ?? '').toBe(true);
    expect(interim).toMatchObject({ runId: `${prefix}-r1`, status: 'failed' });
    expect(await store!.getRun(`${prefix}-r1`)).toMatchObject({ status: 'waiting', wait: { name: 'approval', nodeId: 'approve' } });

    // 1. a payload the wait's schema refuses: dead-lettered naming the field, the run still waits
    const bad = await c.signal(`${prefix}-r1`, 'approval', { approved: 'yes', by: 'ana' });
    await waitFor(() => deadLetters.length >= 1 && rejections.length >= 1, 'the refused signal dead-lettered and reported', 60_000, 50);
    expect(deadLetters[0]).toMatchObject({ topic: transport.topics.signal });
    expect(deadLetters[0]!.reason).toMatch(/SIGNAL_INVALID[\s\S]*payload\.approved/);
    expect(rejections[0]).toMatchObject({ runId: `${prefix}-r1`, type: SIGNAL_REJECTED, nodeId: 'approve' });
    expect(JSON.parse(rejections[0]!.data)).toMatchObject({ signalId: bad, code: 'SIGNAL_INVALID', issues: [{ path: ['payload', 'approved'] }] });
    expect((await store!.getRun(`${prefix}-r1`))?.status).toBe('waiting');

    // 2. a valid signal: the worker resumes the run and publishes the final result under the request id
    const final = c.result(`${prefix}-r1`, { final: true });
    const good = await c.signal(`${prefix}-r1`, 'approval', { approved: true, by: 'ana' });
    const r = await final;
    expect(r).toMatchObject({ requestId: `${prefix}-r1`, runId: `${prefix}-r1`, status: 'completed', error: null });
    expect(JSON.parse(r.output!)).toMatch(/^published \(approved by ana\): /);
    expect(c.results.get(`${prefix}-r1`)).toBe(r);
    const rec = await store!.getRun(`${prefix}-r1`);
    expect(rec?.status).toBe('completed');
    const history = await store!.history(`${prefix}-r1`);
    expect(history.filter((e) => e.type === 'run.signalled')).toHaveLength(1);
    const draftCalls = history.filter((e) => e.type === 'node.completed' && e.nodeId === 'draft').length;

    // 3. the same signal again (as a redelivery would bring it): acknowledged, nothing runs, nothing is published
    const receivedBefore = c.received;
    await c.signal(`${prefix}-r1`, 'approval', { approved: true, by: 'ana' }, { signalId: good });
    // a later request's whole round trip through the same worker shows the duplicate was handled (signals of a run are ordered by key, not across runs)
    const marker = await c.submit('approval', { topic: 'marker' }, { requestId: `${prefix}-r2` });
    expect(isParkedResult(marker)).toBe(true);
    await waitFor(() => /duplicate signal: its run already completed/.test(worker!.err()), 'the worker to count the duplicate', 60_000, 50);
    expect(c.received).toBe(receivedBefore + 1); // only the marker's answer
    expect(deadLetters).toHaveLength(1);
    const after = await store!.history(`${prefix}-r1`);
    expect(after).toHaveLength(history.length);
    expect(after.filter((e) => e.type === 'node.completed' && e.nodeId === 'draft')).toHaveLength(draftCalls);
  });

  it('`llmo signal --brokers … --wait` sends the signal and prints the final result', async () => {
    const id = `${prefix}-r2`; // parked by the test above
    expect((await store!.getRun(id))?.status).toBe('waiting');
    const p = llmo(['signal', id, 'approval', ...kafkaArgs, '--payload', '{"approved":false,"by":"bob"}', '--wait', '--timeout', '60000']);
    expect(await p.exited, p.err()).toBe(0);
    const printed = JSON.parse(p.out().trim()) as { requestId: string; status: string; output: unknown };
    expect(printed).toMatchObject({ requestId: id, status: 'completed', output: 'not published: rejected by bob' });
    expect((await store!.getRun(id))?.status).toBe('completed');
  });
});
