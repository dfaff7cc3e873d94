// Unit tests of the Kafka transport factory that need no broker: options are checked (the bad field is
// named), and with no broker reachable, read() errors its Observable with a retriable KAFKA_UNREACHABLE
// carrying the kafkajs error as cause, fast when `retries` and `connectionTimeoutMs` are low.
import { createServer } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isOrchestratorError, isValidationError } from '../../errors.ts';
import { createKafkaTransport, type KafkaTransportOptions } from './index.ts';
import { kafkaFailure } from './failures.ts';

/** A 127.0.0.1 port nothing listens on (connections are refused at once). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function issuesOf(options: unknown): string[] {
  try {
    createKafkaTransport(options as KafkaTransportOptions);
  } catch (e) {
    expect(isValidationError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'OPTIONS_INVALID' });
    return (e as { issues: { path: (string | number)[] }[] }).issues.map((i) => i.path.join('.'));
  }
  throw new Error('expected a ValidationError');
}

describe('createKafkaTransport: options', () => {
  it('accepts good options and creates nothing until used', () => {
    const t = createKafkaTransport({ brokers: ['127.0.0.1:9092'], prefix: 'my-app.v2', partitions: 3, connectionTimeoutMs: 500, retries: 0 });
    expect(t.kind).toBe('kafka');
    expect(t.topics.request).toBe('my-app.v2.run-requests');
  });

  it.each([
    [{ brokers: [] }, ['options.brokers']],
    [{ brokers: ['localhost'] }, ['options.brokers.0']],
    [{ brokers: ['a:1', 'b:x'] }, ['options.brokers.1']],
    [{ brokers: ['a:1'], partitions: 0 }, ['options.partitions']],
    [{ brokers: ['a:1'], prefix: 'has space' }, ['options.prefix']],
    [{ brokers: ['a:1'], connectionTimeoutMs: -1 }, ['options.connectionTimeoutMs']],
    [{ brokers: ['a:1'], retries: 1.5 }, ['options.retries']],
    [{ brokers: ['a:1'], maxMessageBytes: 100 }, ['options.maxMessageBytes']],
    [{ brokers: ['a:1'], logger: console.log }, ['options.logger']],
    [{ brokers: ['a:1'], broker: 'typo' }, ['options']],
    [{}, ['options.brokers']],
  ])('%j is refused, naming %j', (options, paths) => {
    expect(issuesOf(options)).toEqual(paths);
  });

  it('names an unknown field in the message', () => {
    expect(() => createKafkaTransport({ brokers: ['a:1'], sessionTimeout: 5 } as unknown as KafkaTransportOptions)).toThrow(/sessionTimeout/);
  });
});

describe('createKafkaTransport: no broker reachable', () => {
  it('read() errors its Observable with a retriable KAFKA_UNREACHABLE that carries the kafkajs error', async () => {
    const t = createKafkaTransport({ brokers: [`127.0.0.1:${await closedPort()}`], connectionTimeoutMs: 200, retries: 0 });
    const e = await firstValueFrom(t.read('result', { fromBeginning: true })).then(() => undefined, (err: unknown) => err);
    expect(isOrchestratorError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'KAFKA_UNREACHABLE', retriable: true });
    expect((e as Error).message).toMatch(/^reading llmo\.run-results: no Kafka broker reachable/);
    expect((e as Error).cause).toBeInstanceOf(Error);
    expect(((e as Error).cause as Error).name).toMatch(/^KafkaJS/);
    await t.close();
  });

  it('send() and ensureTopics() reject (and try again on the next call)', async () => {
    const t = createKafkaTransport({ brokers: [`127.0.0.1:${await closedPort()}`], connectionTimeoutMs: 200, retries: 0 });
    const first = t.ensureTopics();
    await expect(first).rejects.toMatchObject({ name: expect.stringMatching(/^KafkaJS/) });
    const second = t.ensureTopics();
    expect(second).not.toBe(first); // a failure is not memoized
    await expect(second).rejects.toBeInstanceOf(Error);
    await expect(t.send('audit', [{ key: 'k', value: { ts: 1, actor: 'a', action: 'x', runId: null, details: '{}' } }])).rejects.toBeInstanceOf(Error);
    await t.close();
  });
});

describe('kafkaFailure', () => {
  it('keeps an engine error, and takes `retriable` from any other kafkajs failure', () => {
    const own = kafkaFailure('x', Object.assign(new Error('bad'), { retriable: false }));
    expect(own).toMatchObject({ code: 'KAFKA_FAILED', retriable: false, message: 'x: bad' });
    expect(kafkaFailure('y', own)).toBe(own);
    const wrapped = Object.assign(new Error('gave up'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: Object.assign(new Error('ECONNREFUSED'), { name: 'KafkaJSConnectionError' }) });
    expect(kafkaFailure('z', wrapped)).toMatchObject({ code: 'KAFKA_UNREACHABLE', retriable: true, cause: wrapped });
  });
});
