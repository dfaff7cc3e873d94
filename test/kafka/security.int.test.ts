// A secured cluster: a PRIVATE broker started in sasl_ssl mode by scripts/kafka-local.sh (its own CA and
// certificate, SCRAM users created at format time, PLAIN), one for the whole file, stopped after.
// With the CA and the right credentials a transport sends and reads; wrong credentials, no TLS, or a CA
// the client does not trust each fail with a clear, typed error; the password never reaches a log.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaTransport, type KafkaTransportOptions } from '../../src/transports/kafka/index.ts';
import { startPrivateBroker, type PrivateBroker } from './private-broker.ts';
import { readN, sampleMessages, uniquePrefix } from './support.ts';

let broker: PrivateBroker;
let ca: string;
const USER = 'alice';
const PASSWORD = 'alice-s3cret';

beforeAll(async () => {
  broker = await startPrivateBroker({ name: 'secured', security: 'sasl_ssl', username: USER, password: PASSWORD });
  ca = readFileSync(broker.env['KAFKA_SSL_CA_FILE']!, 'utf8');
}, 180_000);

afterAll(async () => {
  await broker?.dispose();
}, 120_000);

const base = (): KafkaTransportOptions => ({ brokers: [broker.brokers], prefix: uniquePrefix('sec'), partitions: 1, connectionTimeoutMs: 3000, retries: 1 });

async function failureOf(options: KafkaTransportOptions): Promise<unknown> {
  const t = createKafkaTransport(options);
  try {
    return await t.ensureTopics().then(() => undefined, (e: unknown) => e);
  } finally {
    await t.close();
  }
}

describe('Kafka transport on a SASL_SSL broker', () => {
  it('the script printed the CA and the credentials for clients', () => {
    expect(broker.env).toMatchObject({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: USER, KAFKA_SASL_PASSWORD: PASSWORD });
    expect(ca).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('with the CA and SCRAM-SHA-512 credentials: sends and reads a message; the password is in no log line', async () => {
    let logged = '';
    const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb(); } }));
    const t = createKafkaTransport({ ...base(), logger, ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: USER, password: PASSWORD } });
    try {
      const audit = sampleMessages().audit;
      await t.send('audit', [{ key: 'run-1', value: audit }]);
      const [m] = await readN(t, 'audit', 1);
      expect(m!.value).toEqual(audit);
    } finally {
      await t.close();
    }
    expect(logged).toContain('[redacted]'); // the options were logged, redacted
    expect(logged).not.toContain(PASSWORD);
  });

  it.each(['scram-sha-256', 'plain'] as const)('%s credentials work too', async (mechanism) => {
    const t = createKafkaTransport({ ...base(), ssl: { ca }, sasl: { mechanism, username: USER, password: PASSWORD } });
    try {
      await t.ensureTopics();
    } finally {
      await t.close();
    }
  });

  it('a wrong password: KAFKA_AUTH_FAILED, not retriable, saying what to check', async () => {
    const e = await failureOf({ ...base(), ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: USER, password: 'wrong' } });
    expect(e).toMatchObject({ code: 'KAFKA_AUTH_FAILED', retriable: false });
    expect((e as Error).message).toMatch(/refused the credentials.*username and password/);
    expect((e as Error).message).not.toContain('wrong');
  });

  it('without TLS: the closed connection says to set ssl', async () => {
    const e = await failureOf({ ...base(), sasl: { mechanism: 'scram-sha-512', username: USER, password: PASSWORD } });
    expect(e).toMatchObject({ code: 'KAFKA_UNREACHABLE' });
    expect((e as Error).message).toMatch(/broker closed the connection: if its listener is secured .*set `ssl` \(TLS\)/);
  });

  it("TLS without the broker's CA: KAFKA_TLS_FAILED, not retriable", async () => {
    const e = await failureOf({ ...base(), ssl: true, sasl: { mechanism: 'scram-sha-512', username: USER, password: PASSWORD } });
    expect(e).toMatchObject({ code: 'KAFKA_TLS_FAILED', retriable: false });
    expect((e as Error).message).toMatch(/TLS handshake failed.*ssl\.ca/);
  });
});
