// The publisher against a fake transport: a failed send is tried again (in order, nothing behind it overtakes
// it); what finally fails is counted as lost with the publisher's health down; a record refused as too large
// loses only itself; the queue is bounded for admission (ready() waits while maxQueued messages wait).
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../errors.ts';
import { silentLogger } from '../logger.ts';
import type { EngineEvent } from '../runtime/events.ts';
import { createHealthBoard } from '../transports/health.ts';
import type { MessageKind, Messages, TokenBatchMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';
import { publishEvents } from './publisher.ts';

type Sent = { kind: MessageKind; key: string; value: unknown };

/** A transport whose send runs `behave(call index, messages)` (throw to fail) after `delayMs`. */
function fakeTransport(behave: (call: number, messages: readonly Sent[]) => void = () => undefined, delay: () => Promise<void> = async () => undefined) {
  const sent: Sent[] = [];
  let calls = 0;
  const transport = {
    kind: 'memory',
    async send<K extends MessageKind>(kind: K, messages: readonly { key: string; value: Messages[K] }[]) {
      const call = calls++;
      await delay();
      const batch = messages.map((m) => ({ kind, key: m.key, value: m.value }));
      behave(call, batch);
      sent.push(...batch);
    },
  } as unknown as Transport;
  return { transport, sent, calls: () => calls };
}

const token = (runId: string, index: number, text = `t${index}`): EngineEvent =>
  ({ type: 'node.token', runId, nodeId: 'gen', index, text, topology: 'x', seq: index, ts: 0 }) as unknown as EngineEvent;

describe('publishEvents: failed sends', () => {
  it('tries a failed send again with backoff, keeping order; health degraded while retrying, up after', async () => {
    const down = new OrchestratorError('KAFKA_UNREACHABLE', 'no broker', { retriable: true });
    const fake = fakeTransport((call) => { if (call < 3) throw down; });
    const events$ = new Subject<EngineEvent>();
    const health = createHealthBoard();
    const statuses: string[] = [];
    health.changes$.subscribe((r) => statuses.push(r.components.publisher?.status ?? '-'));
    const pub = publishEvents(events$, fake.transport, { logger: silentLogger, health, lingerMs: 1, maxBatch: 2, retries: 5, retryDelayMs: 1 });
    for (let i = 0; i < 10; i++) events$.next(token('r1', i));
    await pub.flush();
    const tokens = fake.sent.flatMap((s) => (s.value as TokenBatchMessage).tokens);
    expect(tokens).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(pub.lost).toBe(0);
    expect(statuses).toContain('degraded');
    expect(health.report().components.publisher?.status).toBe('up');
    await pub.close();
  });

  it('after the retries, the messages count as lost and health is down with the reason; the next success turns it up', async () => {
    let failing = true;
    const down = new OrchestratorError('KAFKA_UNREACHABLE', 'no broker', { retriable: true });
    const fake = fakeTransport(() => { if (failing) throw down; });
    const events$ = new Subject<EngineEvent>();
    const health = createHealthBoard();
    const pub = publishEvents(events$, fake.transport, { logger: silentLogger, health, lingerMs: 1, retries: 2, retryDelayMs: 1 });
    events$.next(token('r1', 0));
    events$.next(token('r1', 1));
    await pub.flush();
    expect(fake.calls()).toBe(3); // the first try and 2 retries
    expect(pub.lost).toBe(1); // one batch of two tokens
    expect(health.report().components.publisher).toMatchObject({ status: 'down', reason: expect.stringMatching(/1 token message\(s\) lost .*no broker/) });
    failing = false;
    events$.next(token('r2', 0));
    await pub.flush();
    expect(pub.lost).toBe(1);
    expect(health.report().components.publisher?.status).toBe('up');
    await pub.close();
  });

  it('a refused record (not retriable, e.g. too large) is not retried and loses only itself', async () => {
    const fake = fakeTransport((_, batch) => {
      if (batch.some((m) => m.key === 'big')) throw new OrchestratorError('KAFKA_RECORD_TOO_LARGE', 'too large', { retriable: false });
    });
    const events$ = new Subject<EngineEvent>();
    const health = createHealthBoard();
    const reasons: string[] = [];
    health.changes$.subscribe((r) => { const p = r.components.publisher; if (p?.reason !== undefined) reasons.push(`${p.status}: ${p.reason}`); });
    const pub = publishEvents(events$, fake.transport, { logger: silentLogger, health, lingerMs: 1000, retries: 5, retryDelayMs: 1 });
    events$.next(token('a', 0));
    events$.next(token('big', 0));
    events$.next(token('c', 0));
    await pub.flush(); // the three batches go in one send, which is refused
    expect(fake.sent.map((s) => s.key)).toEqual(['a', 'c']);
    expect(pub.lost).toBe(1);
    expect(fake.calls()).toBe(4); // the part once, then each record alone, none retried
    expect(reasons).toEqual([expect.stringMatching(/^degraded: 1 token message\(s\) lost .*too large/)]);
    expect(health.report().components.publisher?.status).toBe('up'); // 'c' went out after it
    await pub.close();
  });
});

describe('publishEvents: bounded queue', () => {
  it('ready() waits while maxQueued messages wait, and resolves once the slow transport drained below', async () => {
    const gates: (() => void)[] = [];
    const fake = fakeTransport(() => undefined, () => new Promise<void>((r) => gates.push(r)));
    const events$ = new Subject<EngineEvent>();
    const pub = publishEvents(events$, fake.transport, { logger: silentLogger, lingerMs: 1000, maxBatch: 1, maxQueued: 5 });
    await pub.ready(); // empty: at once
    for (let i = 0; i < 8; i++) events$.next(token(`r${i}`, 0)); // maxBatch 1: each token is a message at once
    expect(pub.queued).toBe(8);
    let admitted = false;
    const ready = pub.ready().then(() => { admitted = true; });
    await new Promise((r) => setTimeout(r, 20));
    expect(admitted).toBe(false);
    // the first send carries the first message alone (queued behind: 7), the next all 7 at once
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 20));
    expect(admitted).toBe(false);
    expect(pub.queued).toBe(7);
    gates.shift()!();
    await ready;
    expect(admitted).toBe(true);
    expect(pub.queued).toBe(0);
    await pub.close();
  });
});
