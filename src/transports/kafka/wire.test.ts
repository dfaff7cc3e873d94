// Unit tests of the wire options of the Kafka transport and of the registry client, no broker or registry:
// the fields are checked (naming the bad one), the registry library is loaded only when a registry is
// used, an unreachable registry is a retriable error, and the memory transport writes single-object records.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../errors.ts';
import { createCodec, SCHEMA_HEADER } from '../codec.ts';
import { createMemoryTransport } from '../memory.ts';
import { createKafkaTransport, type KafkaTransportOptions } from './index.ts';
import { createSchemaRegistryClient } from './registry.ts';
import { readUntil, sampleMessages } from '../../../test/kafka/support.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const samples = sampleMessages();

function issuesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(isValidationError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'OPTIONS_INVALID' });
    return (e as { issues: { path: (string | number)[] }[] }).issues.map((i) => i.path.join('.'));
  }
  throw new Error('expected a ValidationError');
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('createKafkaTransport: wire options', () => {
  const brokers = ['127.0.0.1:9092'];

  it('accepts each format, and a registry URL with any of them (to read schema-registry records during a migration)', () => {
    for (const wireFormat of ['llmo', 'single-object'] as const) expect(createKafkaTransport({ brokers, wireFormat }).kind).toBe('kafka');
    expect(createKafkaTransport({ brokers, wireFormat: 'schema-registry', schemaRegistry: { url: 'http://127.0.0.1:8081' } }).kind).toBe('kafka');
    expect(createKafkaTransport({ brokers, schemaRegistry: { url: 'https://r.example.com/apis/ccompat/v7', auth: { username: 'u', password: 'p' } } }).kind).toBe('kafka');
  });

  it.each([
    [{ wireFormat: 'schema-registry' }, ['options.schemaRegistry.url']],
    [{ wireFormat: 'json' }, ['options.wireFormat']],
    [{ schemaRegistry: {} }, ['options.schemaRegistry.url']],
    [{ schemaRegistry: { url: 'not a url' } }, ['options.schemaRegistry.url']],
    [{ schemaRegistry: { url: 'ftp://r:21' } }, ['options.schemaRegistry.url']],
    [{ schemaRegistry: { url: 'http://r:8081', auth: { username: '' , password: 'p' } } }, ['options.schemaRegistry.auth.username']],
    [{ schemaRegistry: { url: 'http://r:8081', token: 'x' } }, ['options.schemaRegistry']],
    [{ codec: createCodec(), wireFormat: 'single-object' }, ['options.wireFormat']],
    [{ codec: createCodec(), schemaRegistry: { url: 'http://r:8081' } }, ['options.schemaRegistry']],
  ])('%j is refused, naming %j', (wire, paths) => {
    expect(issuesOf(() => createKafkaTransport({ brokers, ...wire } as unknown as KafkaTransportOptions))).toEqual(paths);
  });
});

describe('createSchemaRegistryClient', () => {
  it('an unreachable registry rejects with a retriable SCHEMA_REGISTRY_UNAVAILABLE carrying the cause', async () => {
    const client = createSchemaRegistryClient({ url: `http://127.0.0.1:${await closedPort()}` });
    const e = await client.schema(1).then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', retriable: true });
    expect((e as Error).cause).toBeInstanceOf(Error);
    await expect(client.register('t-value', 'int')).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', retriable: true });
  }, 30_000);

  it('the registry library is loaded only when a registry is used (checked in a fresh process)', () => {
    const code = [
      "import { createRequire } from 'node:module';",
      `const { createKafkaTransport, createSchemaRegistryClient } = await import(${JSON.stringify(join(REPO, 'src/transports/kafka/index.ts'))});`,
      "const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('confluent-schema-registry'));",
      "createKafkaTransport({ brokers: ['127.0.0.1:9'], wireFormat: 'single-object' });",
      "const client = createSchemaRegistryClient({ url: 'http://127.0.0.1:9' });",
      'const before = loaded();',
      'await client.schema(1).catch(() => undefined);',
      'process.stdout.write(JSON.stringify({ before, after: loaded() }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, timeout: 60_000, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: false, after: true });
  }, 70_000);
});

describe('memory transport: wireFormat', () => {
  it('writes single-object records and reads every framing on one log', async () => {
    const t = createMemoryTransport({ wireFormat: 'single-object' });
    const llmo = createCodec().encode('audit', samples.audit);
    expect(llmo.headers[SCHEMA_HEADER]).toBeDefined();
    t.appendRaw('audit', [{ key: 'old', ...llmo }]);
    await t.send('audit', [{ key: 'new', value: samples.audit }]);
    const so = createCodec({ wireFormat: 'single-object' }).encode('audit', samples.audit);
    t.appendRaw('audit', [{ key: 'foreign', value: so.value, headers: {} }]);
    const got = await readUntil(t.read('audit', { fromBeginning: true }), (xs) => xs.length >= 3, 5_000);
    expect(got.map((m) => [m.key, m.value])).toEqual([['old', samples.audit], ['new', samples.audit], ['foreign', samples.audit]]);
    await t.close();
  });
});
