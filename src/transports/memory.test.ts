// Unit tests of the in-memory transport: logs and reads, consumer groups, bounded handlers in flight,
// dead-lettering of messages that cannot be decoded or validated.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { Codec, createCodec, SCHEMA_HEADER } from './codec.ts';
import type { TransportEvent } from './health.ts';
import { createMemoryTransport } from './memory.ts';
import type { Envelope } from './transport.ts';
import type { DeadLetterMessage, FeedbackMessage, Messages } from './messages.ts';
import { MESSAGE_KINDS } from './messages.ts';
import { sampleMessages } from '../../test/kafka/support.ts';

const samples = sampleMessages();
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function until(p: () => boolean, what: string, max = 2000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (p()) return;
    await tick();
  }
  throw new Error(`never: ${what}`);
}
const fb = (i: number, extra: Partial<FeedbackMessage> = {}): { key: string; value: FeedbackMessage } => ({
  key: 'k', value: { ...samples.feedback, feedbackId: `fb-${i}`, score: i, ...extra },
});

describe('memory transport', () => {
  it('send then read fromBeginning gives every kind back, deep-equal, with keys and offsets', async () => {
    const t = createMemoryTransport();
    for (const kind of MESSAGE_KINDS) {
      await t.send(kind, [{ key: `key-${kind}`, value: samples[kind] }]);
      const [m] = await firstValueFrom(t.read(kind, { fromBeginning: true }).pipe(take(1), toArray()));
      expect(m).toMatchObject({ key: `key-${kind}`, value: samples[kind], partition: 0, offset: '0', headers: { 'llmo-kind': kind } });
    }
  });

  it('carries a message\'s own headers to readers and consumers; the codec\'s kind header wins over one of the same name', async () => {
    const t = createMemoryTransport();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await t.send('feedback', [{ ...fb(1), headers: { traceparent, 'llmo-kind': 'spoofed' } }]);
    const [m] = await firstValueFrom(t.read('feedback', { fromBeginning: true }).pipe(take(1), toArray()));
    expect(m!.headers).toMatchObject({ traceparent, 'llmo-kind': 'feedback' });
    const seen: (string | undefined)[] = [];
    const c = await t.consume('feedback', { group: 'g', maxInFlight: 1, fromBeginning: true }, async (e) => { seen.push(e.headers?.['traceparent']); });
    await new Promise((r) => setTimeout(r, 20));
    await c.stop();
    expect(seen).toEqual([traceparent]);
  });

  it('read from now skips what is already in the log', async () => {
    const t = createMemoryTransport();
    await t.send('feedback', [fb(1), fb(2)]);
    const got: Envelope<FeedbackMessage>[] = [];
    const sub = t.read('feedback', { fromBeginning: false }).subscribe((m) => got.push(m));
    await t.send('feedback', [fb(3)]);
    sub.unsubscribe();
    expect(got.map((m) => m.value.feedbackId)).toEqual(['fb-3']);
    expect(got[0]!.offset).toBe('2');
  });

  it('members of one group share the messages (each once); another group gets them all again', async () => {
    const t = createMemoryTransport();
    const a: string[] = [];
    const b: string[] = [];
    const other: string[] = [];
    const slow = async (): Promise<void> => { await tick(); };
    const ca = await t.consume('feedback', { group: 'g', maxInFlight: 2 }, async (m) => { a.push(m.value.feedbackId); await slow(); });
    const cb = await t.consume('feedback', { group: 'g', maxInFlight: 2 }, async (m) => { b.push(m.value.feedbackId); await slow(); });
    const co = await t.consume('feedback', { group: 'h', maxInFlight: 1 }, async (m) => { other.push(m.value.feedbackId); });
    await t.send('feedback', Array.from({ length: 40 }, (_, i) => fb(i)));
    await until(() => a.length + b.length === 40 && other.length === 40, 'all delivered');
    await Promise.all([ca.stop(), cb.stop(), co.stop()]);
    const all = Array.from({ length: 40 }, (_, i) => `fb-${i}`);
    expect([...a, ...b].sort()).toEqual([...all].sort());
    expect(new Set([...a, ...b]).size).toBe(40);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(other).toEqual(all); // one member, one in flight: log order
  });

  it('never runs more than maxInFlight handlers at once, and inFlight reports them', async () => {
    const t = createMemoryTransport();
    const gates: (() => void)[] = [];
    let active = 0;
    let max = 0;
    let done = 0;
    const c = await t.consume('request', { group: 'w', maxInFlight: 3 }, async () => {
      active++;
      max = Math.max(max, active);
      await new Promise<void>((r) => gates.push(r));
      active--;
      done++;
    });
    await t.send('request', Array.from({ length: 20 }, (_, i) => ({ key: `r${i}`, value: { ...samples.request, requestId: `r${i}` } })));
    await until(() => gates.length === 3, 'three handlers started');
    for (let i = 0; i < 10; i++) await tick();
    expect(gates.length).toBe(3);
    expect(c.inFlight).toBe(3);
    while (done < 20) {
      gates.shift()?.();
      await tick();
      expect(c.inFlight).toBeLessThanOrEqual(3);
    }
    expect(max).toBe(3);
    expect(c.inFlight).toBe(0);
    await c.stop();
  });

  it('stop waits for the handlers in flight, then takes no more', async () => {
    const t = createMemoryTransport();
    let release!: () => void;
    let started = 0;
    let finished = 0;
    const c = await t.consume('audit', { group: 'a', maxInFlight: 1 }, async () => {
      started++;
      await new Promise<void>((r) => (release = r));
      finished++;
    });
    await t.send('audit', [{ key: 'a', value: samples.audit }, { key: 'b', value: samples.audit }]);
    await until(() => started === 1, 'first started');
    let stopped = false;
    const stopping = c.stop().then(() => { stopped = true; });
    await tick();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(1);
    for (let i = 0; i < 5; i++) await tick();
    expect(started).toBe(1);
  });

  it('a group created with offsetReset: latest starts at the end of the log; earliest (the default) at its start', async () => {
    const t = createMemoryTransport();
    await t.send('audit', [{ key: 'old', value: samples.audit }]);
    const late: string[] = [];
    const early: string[] = [];
    const c1 = await t.consume('audit', { group: 'late', maxInFlight: 4, offsetReset: 'latest' }, async (m) => { late.push(m.key); });
    const c2 = await t.consume('audit', { group: 'early', maxInFlight: 4 }, async (m) => { early.push(m.key); });
    await t.send('audit', [{ key: 'new', value: samples.audit }]);
    await until(() => late.length === 1 && early.length === 2, 'new message');
    await Promise.all([c1.stop(), c2.stop()]);
    expect(late).toEqual(['new']);
    expect(early).toEqual(['old', 'new']);
  });

  it('rejects invalid consume options naming the field', async () => {
    const t = createMemoryTransport();
    await expect(t.consume('audit', { group: 'g', maxInFlight: 1, maxAttempts: 0 }, async () => undefined)).rejects.toThrow(/maxAttempts/);
  });

  it('(deprecated) a group created with fromBeginning: false starts at the end of the log', async () => {
    const t = createMemoryTransport();
    await t.send('audit', [{ key: 'old', value: samples.audit }]);
    const seen: string[] = [];
    const c = await t.consume('audit', { group: 'late', maxInFlight: 4, fromBeginning: false }, async (m) => { seen.push(m.key); });
    await t.send('audit', [{ key: 'new', value: samples.audit }]);
    await until(() => seen.length === 1, 'new message');
    await c.stop();
    expect(seen).toEqual(['new']);
  });

  it('dead-letters garbage, a missing header, an unknown fingerprint and invalid feedback with the reason, and goes on', async () => {
    const t = createMemoryTransport({ prefix: 'unit' });
    const codec = createCodec();
    const ok = codec.encode('feedback', fb(1).value);
    const seen: string[] = [];
    const c = await t.consume('feedback', { group: 'g', maxInFlight: 4 }, async (m) => { seen.push(m.value.feedbackId); });
    t.appendRaw('feedback', [
      { key: 'garbage', value: Buffer.from('not avro at all'), headers: ok.headers },
      { key: 'no-header', value: ok.value, headers: {} },
      { key: 'unknown-fp', value: ok.value, headers: { [SCHEMA_HEADER]: '0'.repeat(64) } },
    ]);
    await t.send('feedback', [
      { key: 'empty-metric', value: { ...fb(2).value, metric: '' } },
      { key: 'nan', value: { ...fb(3).value, score: Number.NaN } },
      { key: 'valid', value: fb(4).value },
    ]);
    await until(() => seen.length === 1, 'valid message');
    await c.stop();
    expect(seen).toEqual(['fb-4']);
    const dead = (await firstValueFrom(t.read('deadLetter', { fromBeginning: true }).pipe(take(5), toArray()))).map((m) => m.value);
    const byKey = new Map<string, DeadLetterMessage>(dead.map((d) => [d.key!.toString('utf8'), d]));
    expect([...byKey.keys()]).toEqual(['garbage', 'no-header', 'unknown-fp', 'empty-metric', 'nan']);
    expect(byKey.get('garbage')!.reason).toMatch(/^cannot decode feedback: /);
    expect(byKey.get('no-header')!.reason).toBe(`missing '${SCHEMA_HEADER}' header`);
    expect(byKey.get('unknown-fp')!.reason).toBe(`unknown feedback schema fingerprint ${'0'.repeat(64)}`);
    expect(byKey.get('empty-metric')!.reason).toMatch(/^invalid feedback:[\s\S]*metric/);
    expect(byKey.get('nan')!.reason).toMatch(/^invalid feedback:[\s\S]*score/);
    for (const d of dead) {
      expect(d.topic).toBe('unit.feedback');
      expect(d.value).not.toBeNull();
    }
    expect(dead.map((d) => d.offset)).toEqual(['0', '1', '2', '3', '4']);
    expect(byKey.get('garbage')!.value!.toString('utf8')).toBe('not avro at all');
  });

  it('reads only what decodes (read skips, it does not dead-letter)', async () => {
    const t = createMemoryTransport();
    t.appendRaw('policy', [{ key: 'bad', value: Buffer.from([1, 2, 3]), headers: {} }]);
    await t.send('policy', [{ key: 'good', value: samples.policy }]);
    const got = await firstValueFrom(t.read('policy', { fromBeginning: true }).pipe(take(1), toArray()));
    expect(got.map((m: Envelope<Messages['policy']>) => m.key)).toEqual(['good']);
  });

  describe('failing handlers (virtual time)', () => {
    afterEach(() => { vi.useRealTimers(); });
    const fakeTime = (): void => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }); };

    it('a rejecting handler is tried again in place with backoff, then dead-lettered with the reason; each failure is an event', async () => {
      fakeTime();
      const t = createMemoryTransport({ prefix: 'unit' });
      const events: TransportEvent[] = [];
      t.events$.subscribe((e) => events.push(e));
      const attempts = new Map<string, number>();
      const done: string[] = [];
      const c = await t.consume('feedback', { group: 'g', maxInFlight: 2, maxAttempts: 3, retryBackoffMs: 200 }, async (m, { attempt }) => {
        attempts.set(m.key, attempt);
        if (m.key === 'bad') throw new Error('boom');
        if (m.key === 'flaky' && attempt === 1) throw new Error('once');
        done.push(m.key);
      });
      await t.send('feedback', [{ ...fb(1), key: 'bad' }, { ...fb(2), key: 'flaky' }, { ...fb(3), key: 'ok' }]);
      await until(() => attempts.size === 2, 'first attempts');
      expect(events.filter((e) => e.type === 'dead-lettered')).toEqual([]); // not after the first failure
      await vi.advanceTimersByTimeAsync(199);
      expect(attempts.get('bad')).toBe(1); // backoff: not yet
      await vi.advanceTimersByTimeAsync(1);
      await until(() => attempts.get('bad') === 2 && done.includes('flaky'), 'second attempts');
      await vi.advanceTimersByTimeAsync(400);
      await until(() => events.some((e) => e.type === 'dead-lettered'), 'dead letter');
      await until(() => done.includes('ok'), 'ok handled');
      await c.stop();
      expect(attempts.get('bad')).toBe(3);
      const failed = events.filter((e) => e.type === 'handler.failed');
      expect(failed.map((e) => [e.offset, e.attempt, e.maxAttempts, e.reason])).toEqual([['0', 1, 3, 'boom'], ['1', 1, 3, 'once'], ['0', 2, 3, 'boom'], ['0', 3, 3, 'boom']]);
      const dead = events.filter((e) => e.type === 'dead-lettered');
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ topic: 'unit.feedback', offset: '0', reason: 'handler failed 3 times: boom' });
      const [dl] = await firstValueFrom(t.read('deadLetter', { fromBeginning: true }).pipe(take(1), toArray()));
      expect(dl!.value).toMatchObject({ topic: 'unit.feedback', offset: '0', reason: 'handler failed 3 times: boom' });
      expect(done.sort()).toEqual(['flaky', 'ok']);
    });

    it('a handler running past handlerTimeoutMs fails that attempt and sees its signal abort', async () => {
      fakeTime();
      const t = createMemoryTransport();
      const events: TransportEvent[] = [];
      t.events$.subscribe((e) => events.push(e));
      const aborted: number[] = [];
      const c = await t.consume('audit', { group: 'g', maxInFlight: 1, maxAttempts: 2, retryBackoffMs: 10, handlerTimeoutMs: 1000 }, (_m, { signal, attempt }) =>
        new Promise<void>((resolve) => {
          if (attempt === 2) return resolve();
          signal.addEventListener('abort', () => aborted.push(attempt));
        }));
      await t.send('audit', [{ key: 'slow', value: samples.audit }]);
      await vi.advanceTimersByTimeAsync(1000);
      await vi.advanceTimersByTimeAsync(10);
      await until(() => c.inFlight === 0, 'second attempt done');
      await c.stop();
      expect(aborted).toEqual([1]);
      expect(events.filter((e) => e.type === 'handler.failed').map((e) => e.reason)).toEqual([expect.stringMatching(/^TIMEOUT: .*timed out after 1000 ms/)]);
      expect(events.filter((e) => e.type === 'dead-lettered')).toEqual([]);
    });

    it('when dead-lettering fails the message is not done: the consumer goes down, the message comes again, and up once it is dead-lettered', async () => {
      fakeTime();
      const real = createCodec();
      let failDeadLetters = true;
      const codec = {
        encode: (kind, value) => {
          if (kind === 'deadLetter' && failDeadLetters) throw new Error('dead-letter topic unavailable');
          return real.encode(kind, value);
        },
        decode: (kind, value, headers) => real.decode(kind, value, headers),
      } as Pick<Codec, 'encode' | 'decode'> as Codec;
      const t = createMemoryTransport({ prefix: 'unit', codec });
      const events: TransportEvent[] = [];
      t.events$.subscribe((e) => events.push(e));
      const seen: string[] = [];
      const c = await t.consume('audit', { group: 'g', maxInFlight: 1, maxAttempts: 1, retryBackoffMs: 100 }, async (m) => {
        seen.push(m.key);
        if (m.key === 'bad') throw new Error('boom');
      });
      await t.send('audit', [{ key: 'bad', value: samples.audit }, { key: 'next', value: samples.audit }]);
      await until(() => events.some((e) => e.type === 'dead-letter.failed'), 'dead-letter failure');
      expect(t.health.report().components['consumer:unit.audit:g']).toMatchObject({ status: 'down', reason: expect.stringMatching(/dead-letter topic unavailable/) });
      expect(events.find((e) => e.type === 'dead-letter.failed')).toMatchObject({ topic: 'unit.audit', offset: '0', reason: expect.stringMatching(/dead-letter topic unavailable/) });
      failDeadLetters = false;
      await vi.advanceTimersByTimeAsync(100);
      await until(() => seen.filter((k) => k === 'bad').length === 2 && events.some((e) => e.type === 'dead-lettered'), 'bad again, then dead-lettered');
      await until(() => seen.includes('next'), 'next');
      expect(t.health.report().components['consumer:unit.audit:g']?.status).toBe('up');
      await c.stop();
      expect(events.filter((e) => e.type === 'dead-lettered').map((e) => e.offset)).toEqual(['0']);
      expect(t.health.report().components['consumer:unit.audit:g']).toBeUndefined(); // stopped on purpose: forgotten
    });
  });
});
