// Unit tests of the wire formats (no broker): Avro single-object encoding and the Confluent Schema
// Registry framing next to the original llmo framing. Any codec reads all three, whatever it writes,
// and schema evolution (an older writer read by the newer reader) works in each. The registry here is
// an in-process table behind the codec's SchemaRegistryClient seam; the HTTP client against a real
// registry is covered by test/kafka/registry.int.test.ts.
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { isOrchestratorError, isValidationError } from '../errors.ts';
import { Codec, createCodec, KIND_HEADER, loadSchema, SCHEMA_FILES, SCHEMA_HEADER } from './codec.ts';
import { rabinFingerprint } from './crc64.ts';
import { frameOf, REGISTRY_MAGIC, SINGLE_OBJECT_MARKER } from './framing.ts';
import { MESSAGE_KINDS, type FeedbackMessage } from './messages.ts';
import type { SchemaRegistryClient } from './registry.ts';
import { topicNames } from './transport.ts';
import { sampleMessages } from '../../test/kafka/support.ts';

const samples = sampleMessages();
const topics = topicNames('wire');
const newest = (kind: keyof typeof SCHEMA_FILES): avro.Type => avro.Type.forSchema(loadSchema(SCHEMA_FILES[kind].at(-1)!));

/** A registry in a Map: ids from 1, the same schema text keeps its id (as Confluent does); `down` makes every call fail. */
function tableRegistry() {
  const byId = new Map<number, string>();
  const subjects = new Map<string, number[]>();
  const calls: string[] = [];
  let down = false;
  const client: SchemaRegistryClient = {
    async register(subject, schema) {
      calls.push(`register ${subject}`);
      if (down) throw new Error('connect ECONNREFUSED');
      const text = JSON.stringify(schema);
      let id = [...byId].find(([, s]) => s === text)?.[0];
      if (id === undefined) byId.set((id = byId.size + 1), text);
      subjects.set(subject, [...(subjects.get(subject) ?? []), id]);
      return id;
    },
    async schema(id) {
      calls.push(`schema ${id}`);
      if (down) throw new Error('connect ECONNREFUSED');
      const s = byId.get(id);
      return s === undefined ? undefined : (JSON.parse(s) as avro.Schema);
    },
  };
  return { client, byId, subjects, calls, setDown: (d: boolean) => { down = d; } };
}

describe('single-object encoding', () => {
  const so = createCodec({ wireFormat: 'single-object' });

  it.each(MESSAGE_KINDS)('%s: C3 01, the CRC-64-AVRO fingerprint of the writer schema (LE), then the plain Avro body; round-trips', (kind) => {
    const e = so.encode(kind, samples[kind]);
    expect([...e.value.subarray(0, 2)]).toEqual([0xc3, 0x01]);
    expect(e.value.subarray(2, 10)).toEqual(rabinFingerprint(newest(kind)));
    expect(e.value.subarray(10)).toEqual(newest(kind).toBuffer(samples[kind]));
    expect(e.headers[SCHEMA_HEADER]).toBeUndefined(); // the bytes say it all
    expect(e.headers[KIND_HEADER]).toBe(kind);
    expect(so.decode(kind, e.value, e.headers)).toEqual({ ok: true, value: samples[kind] });
    expect(so.decode(kind, e.value, {})).toEqual({ ok: true, value: samples[kind] }); // a foreign producer sends no headers
  });

  it('the bytes decode with plain avsc given only the schema file (what another language\'s reader does)', () => {
    const e = so.encode('feedback', samples.feedback);
    const type = avro.Type.forSchema(loadSchema('feedback.v3.avsc'));
    expect(e.value.readBigUInt64LE(2)).toBe(rabinFingerprint(type).readBigUInt64LE());
    expect(type.fromBuffer(e.value.subarray(10))).toEqual(samples.feedback);
  });

  it('reads v1 feedback written in single-object encoding by an older version: the v2 reader fills comment with null', () => {
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] }, undefined, { wireFormat: 'single-object' });
    const { comment: _dropped, label: _label, ...v1Value } = samples.feedback;
    const e = v1.encode('feedback', v1Value as unknown as FeedbackMessage);
    expect(e.value.subarray(2, 10)).toEqual(rabinFingerprint(avro.Type.forSchema(loadSchema('feedback.v1.avsc'))));
    expect(createCodec().decode('feedback', e.value, e.headers)).toEqual({ ok: true, value: { ...v1Value, comment: null, label: null } });
  });

  it('an unknown fingerprint (a newer writer, or another kind\'s schema) is reported, not thrown', () => {
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] });
    const e = so.encode('feedback', samples.feedback);
    const fp = e.value.subarray(2, 10).toString('hex');
    expect(v1.decode('feedback', e.value, e.headers)).toEqual({ ok: false, reason: `unknown feedback single-object fingerprint ${fp}` });
    const policy = so.encode('policy', samples.policy);
    expect(so.decode('feedback', policy.value, {})).toEqual({ ok: false, reason: `unknown feedback single-object fingerprint ${policy.value.subarray(2, 10).toString('hex')}` });
  });

  it('reports a truncated header, a truncated body and trailing bytes', () => {
    const e = so.encode('feedback', samples.feedback);
    expect(so.decode('feedback', e.value.subarray(0, 7), {})).toEqual({ ok: false, reason: 'single-object record shorter than its 10-byte header' });
    expect(so.decode('feedback', e.value.subarray(0, e.value.length - 3), {})).toEqual({ ok: false, reason: 'cannot decode feedback: truncated buffer' });
    expect(so.decode('feedback', Buffer.concat([e.value, Buffer.from([1])]), {})).toEqual({ ok: false, reason: 'cannot decode feedback: trailing data' });
  });
});

describe('schema registry framing', () => {
  it('prepare registers the newest schema of every kind under <topic>-value (the file as written, defaults and docs kept)', async () => {
    const reg = tableRegistry();
    const codec = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await codec.prepare(topics);
    expect([...reg.subjects.keys()].sort()).toEqual(MESSAGE_KINDS.map((k) => `${topics[k]}-value`).sort());
    const fbId = reg.subjects.get(`${topics.feedback}-value`)![0]!;
    expect(JSON.parse(reg.byId.get(fbId)!)).toEqual(loadSchema('feedback.v3.avsc'));
    await codec.prepare(topics); // idempotent: registered once
    expect(reg.calls.filter((c) => c.startsWith('register')).length).toBe(MESSAGE_KINDS.length);
  });

  it('a codec that only reads the format registers nothing (prepare is a no-op for it)', async () => {
    const reg = tableRegistry();
    await createCodec({ registry: reg.client }).prepare(topics);
    await createCodec({ wireFormat: 'single-object', registry: reg.client }).prepare(topics);
    expect(reg.calls).toEqual([]);
  });

  it.each(MESSAGE_KINDS)('%s: magic 00, the 4-byte big-endian schema id, the plain Avro body; round-trips', async (kind) => {
    const reg = tableRegistry();
    const codec = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await codec.prepare(topics);
    const e = codec.encode(kind, samples[kind]);
    expect(e.value[0]).toBe(0);
    expect(e.value.readUInt32BE(1)).toBe(reg.subjects.get(`${topics[kind]}-value`)![0]);
    expect(e.value.subarray(5)).toEqual(newest(kind).toBuffer(samples[kind]));
    expect(e.headers[SCHEMA_HEADER]).toBeUndefined();
    expect(codec.decode(kind, e.value, e.headers)).toEqual({ ok: true, value: samples[kind] }); // its own ids are known: no fetch
    expect(reg.calls.some((c) => c.startsWith('schema'))).toBe(false);
  });

  it('a reader that has not seen an id fetches its schema once (decodeAsync), then decodes synchronously', async () => {
    const reg = tableRegistry();
    const writer = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await writer.prepare(topics);
    const e = writer.encode('policy', samples.policy);
    const id = e.value.readUInt32BE(1);
    const reader = createCodec({ registry: reg.client });
    expect(reader.decode('policy', e.value, {})).toEqual({ ok: false, reason: `schema id ${id} not fetched yet (decodeAsync fetches it)` });
    expect(await reader.decodeAsync('policy', e.value, {})).toEqual({ ok: true, value: samples.policy });
    expect(await reader.decodeAsync('policy', e.value, {})).toEqual({ ok: true, value: samples.policy });
    expect(reader.decode('policy', e.value, {})).toEqual({ ok: true, value: samples.policy });
    expect(reg.calls.filter((c) => c === `schema ${id}`)).toHaveLength(1);
  });

  it('reads v1 feedback registered and written by an older version: the v2 reader resolves it (comment null)', async () => {
    const reg = tableRegistry();
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] }, undefined, { wireFormat: 'schema-registry', registry: reg.client });
    await v1.prepare(topics);
    const { comment: _dropped, label: _label, ...v1Value } = samples.feedback;
    const e = v1.encode('feedback', v1Value as unknown as FeedbackMessage);
    const current = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await current.prepare(topics);
    expect(e.value.readUInt32BE(1)).not.toBe(current.encode('feedback', samples.feedback).value.readUInt32BE(1));
    expect(await current.decodeAsync('feedback', e.value, {})).toEqual({ ok: true, value: { ...v1Value, comment: null, label: null } });
  });

  it('an id the registry does not have, a schema that does not resolve to the kind, and no registry at all are reasons (dead letters)', async () => {
    const reg = tableRegistry();
    const codec = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await codec.prepare(topics);
    const body = newest('feedback').toBuffer(samples.feedback);
    const frame = (id: number): Buffer => {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(id, 1);
      return Buffer.concat([head, body]);
    };
    expect(await codec.decodeAsync('feedback', frame(999), {})).toEqual({ ok: false, reason: 'unknown schema id 999: not in the schema registry' });
    const auditId = codec.encode('audit', samples.audit).value.readUInt32BE(1);
    const asFeedback = await codec.decodeAsync('feedback', frame(auditId), {});
    expect(asFeedback.ok).toBe(false);
    expect(!asFeedback.ok && asFeedback.reason).toMatch(new RegExp(`^schema id ${auditId} cannot be read as feedback: `));
    const bare = createCodec();
    expect(await bare.decodeAsync('feedback', frame(auditId), {})).toEqual({ ok: false, reason: `schema-registry record (schema id ${auditId}) but no schema registry is configured` });
  });

  it('a registry that cannot be reached rejects decodeAsync with a retriable error (the record is not dead-lettered); a later call tries again', async () => {
    const reg = tableRegistry();
    const writer = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await writer.prepare(topics);
    const e = writer.encode('audit', samples.audit);
    const reader = createCodec({ registry: reg.client });
    reg.setDown(true);
    const err = await reader.decodeAsync('audit', e.value, {}).then(() => undefined, (x: unknown) => x);
    expect(isOrchestratorError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', retriable: true });
    expect(((err as Error).cause as Error).message).toBe('connect ECONNREFUSED');
    reg.setDown(false);
    expect(await reader.decodeAsync('audit', e.value, {})).toEqual({ ok: true, value: samples.audit });
  });

  it('encode before prepare is a programming error naming the fix; prepare failing is retriable and not remembered', async () => {
    const reg = tableRegistry();
    const codec = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    expect(() => codec.encode('audit', samples.audit)).toThrow(/no schema id for audit yet: await codec\.prepare\(topics\)/);
    reg.setDown(true);
    await expect(codec.prepare(topics)).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', retriable: true });
    reg.setDown(false);
    await codec.prepare(topics);
    expect(codec.encode('audit', samples.audit).value[0]).toBe(0);
  });
});

describe('mixed framings on one topic', () => {
  it('every codec reads llmo, single-object and schema-registry records of a kind, whatever it writes', async () => {
    const reg = tableRegistry();
    const llmo = createCodec({ registry: reg.client });
    const so = createCodec({ wireFormat: 'single-object', registry: reg.client });
    const sr = createCodec({ wireFormat: 'schema-registry', registry: reg.client });
    await Promise.all([llmo.prepare(topics), so.prepare(topics), sr.prepare(topics)]);
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] }, undefined, { wireFormat: 'single-object' });
    const { comment: _dropped, label: _label, ...v1Value } = samples.feedback;
    const records = [
      llmo.encode('feedback', samples.feedback), so.encode('feedback', samples.feedback), sr.encode('feedback', samples.feedback),
      v1.encode('feedback', v1Value as unknown as FeedbackMessage),
    ];
    expect(records.map((r) => frameOf(r.value, r.headers).format)).toEqual(['llmo', 'single-object', 'schema-registry', 'single-object']);
    for (const reader of [llmo, so, sr, createCodec({ registry: reg.client })]) {
      const got = await Promise.all(records.map((r) => reader.decodeAsync('feedback', r.value, r.headers)));
      expect(got).toEqual([
        { ok: true, value: samples.feedback }, { ok: true, value: samples.feedback }, { ok: true, value: samples.feedback },
        { ok: true, value: { ...v1Value, comment: null, label: null } },
      ]);
    }
  });

  it('the llmo header wins over the first bytes (an llmo body may start with C3 01 or 00); without header or prefix the reason says so', () => {
    const codec = createCodec();
    expect(frameOf(Buffer.from([0xc3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 5]), { [SCHEMA_HEADER]: 'ab' })).toMatchObject({ format: 'llmo', fingerprint: 'ab' });
    expect(frameOf(Buffer.from([0, 0, 0, 0, 7]), { [SCHEMA_HEADER]: 'ab' })).toMatchObject({ format: 'llmo' });
    expect(SINGLE_OBJECT_MARKER).toEqual(Buffer.from([0xc3, 0x01]));
    expect(REGISTRY_MAGIC).toBe(0);
    expect(codec.decode('feedback', Buffer.from('not avro'), {})).toEqual({ ok: false, reason: `missing '${SCHEMA_HEADER}' header` });
    expect(codec.decode('feedback', Buffer.from([0, 1, 2]), {})).toEqual({ ok: false, reason: 'schema-registry record shorter than its 5-byte header' });
  });
});

describe('codec options', () => {
  const issues = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      expect(isValidationError(e)).toBe(true);
      expect(e).toMatchObject({ code: 'OPTIONS_INVALID' });
      return (e as { issues: { path: (string | number)[] }[] }).issues.map((i) => i.path.join('.'));
    }
    throw new Error('expected a ValidationError');
  };

  it('schema-registry without a registry, an unknown format, a registry that is not one, and unknown fields are refused, naming the field', () => {
    expect(issues(() => createCodec({ wireFormat: 'schema-registry' }))).toEqual(['options.registry']);
    expect(issues(() => createCodec({ wireFormat: 'protobuf' as 'llmo' }))).toEqual(['options.wireFormat']);
    expect(issues(() => createCodec({ registry: { url: 'http://x' } as unknown as SchemaRegistryClient }))).toEqual(['options.registry']);
    expect(issues(() => createCodec({ wirefmt: 'llmo' } as unknown as { wireFormat: 'llmo' }))).toEqual(['options']);
  });

  it('the default is the llmo framing; wireFormat says what a codec writes', () => {
    expect(createCodec().wireFormat).toBe('llmo');
    expect(createCodec({ wireFormat: 'single-object' }).wireFormat).toBe('single-object');
    const e = createCodec().encode('audit', samples.audit);
    expect(e.headers[SCHEMA_HEADER]).toBe(createCodec().fingerprint('audit'));
  });
});
