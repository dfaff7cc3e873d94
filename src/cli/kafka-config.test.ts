// Kafka settings of `worker` and `submit`: flags over --kafka-config over KAFKA_*, ssl/sasl merged field
// by field, PEM files read (paths relative to the config file), and bad fields named by file field or variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaConfigFromEnv, resolveKafka } from './kafka-config.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'llmo-kafka-config-'));
  writeFileSync(path.join(dir, 'ca.pem'), PEM);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string): string => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('resolveKafka', () => {
  it('flags win over the file, which wins over the environment; sasl merges field by field', async () => {
    const f = file('k.yaml', 'brokers: [file:9093]\nclientId: from-file\nprefix: filed\nssl: { caFile: ca.pem }\nsasl: { mechanism: scram-sha-512, username: llmo }\npartitions: 3\n');
    const env = { KAFKA_BROKERS: 'env:9092', KAFKA_CLIENT_ID: 'from-env', KAFKA_SASL_PASSWORD: 'pw', KAFKA_SASL_USERNAME: 'env-user' };
    const r = await resolveKafka({ kafkaConfig: f, prefix: 'flagged' }, env, { clientId: 'default' });
    expect(r).toMatchObject({ ok: true, value: { where: 'file:9093' } });
    const o = (r as { value: { options: Record<string, unknown> } }).value.options;
    expect(o).toEqual({
      brokers: ['file:9093'], clientId: 'from-file', prefix: 'flagged', partitions: 3,
      ssl: { ca: PEM }, sasl: { mechanism: 'scram-sha-512', username: 'llmo', password: 'pw' },
    });
    const flags = await resolveKafka({ kafkaConfig: f, brokers: 'a:1,b:2', partitions: 12 }, env);
    expect((flags as unknown as { value: { options: { brokers: string[]; partitions: number } } }).value.options).toMatchObject({ brokers: ['a:1', 'b:2'], partitions: 12 });
  });

  it('the environment alone: brokers, TLS with a CA file, SASL', async () => {
    const r = await resolveKafka({}, {
      KAFKA_BROKERS: 'k:9093', KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem'), KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p',
    });
    expect(r).toMatchObject({ ok: true, value: { options: { brokers: ['k:9093'], prefix: 'llmo', partitions: 6, ssl: { ca: PEM }, sasl: { mechanism: 'plain', username: 'u', password: 'p' } } } });
  });

  it('a bad field of --kafka-config is named', async () => {
    const f = file('bad.json', JSON.stringify({ brokers: ['k:1'], sasl: { mechanism: 'scram-sha-1', username: 'u', password: 'p' }, partitons: 3 }));
    const r = await resolveKafka({ kafkaConfig: f }, {});
    expect(r.ok).toBe(false);
    const { what, issues } = r as unknown as { what: string; issues: { path: (string | number)[]; message: string }[] };
    expect(what).toBe(`--kafka-config ${f}`);
    expect(issues.map((i) => i.path.join('.')).sort()).toEqual(['(root)', 'sasl.mechanism'].map((p) => (p === '(root)' ? '' : p)).sort());
    expect(JSON.stringify(issues)).toContain('partitons');
  });

  it('a bad variable is named; missing brokers, sasl parts and unreadable PEM files are said', async () => {
    expect(kafkaConfigFromEnv({ KAFKA_SSL: 'maybe' })).toMatchObject({ ok: false, issues: [{ path: ['KAFKA_SSL'] }] });
    expect(kafkaConfigFromEnv({ KAFKA_SASL_MECHANISM: 'md5' })).toMatchObject({ ok: false, issues: [{ path: ['KAFKA_SASL_MECHANISM'] }] });
    expect(await resolveKafka({}, {})).toMatchObject({ ok: false, issues: [{ message: expect.stringContaining('no Kafka brokers') }] });
    expect(await resolveKafka({ brokers: 'k:1' }, { KAFKA_SASL_USERNAME: 'u' })).toMatchObject({
      ok: false, issues: [{ path: ['sasl', 'mechanism'] }, { path: ['sasl', 'password'], message: expect.stringContaining('KAFKA_SASL_PASSWORD') }],
    });
    expect(await resolveKafka({ brokers: 'k:1' }, { KAFKA_SSL_CA_FILE: path.join(dir, 'nope.pem') })).toMatchObject({
      ok: false, issues: [{ path: ['ssl', 'caFile'], message: expect.stringContaining('nope.pem') }],
    });
  });
});

describe('README', () => {
  it('the --kafka-config example of "Secured clusters" is a valid config file', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const { KafkaConfigSchema } = await import('./kafka-config.ts');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /### Secured clusters[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const parsed = KafkaConfigSchema.safeParse(parse(block!));
    expect(parsed.error?.issues ?? []).toEqual([]);
  });
});
