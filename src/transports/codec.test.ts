// Unit tests of the Avro codec (no broker): round trips, fingerprint headers, schema evolution,
// and decode failures reported as reasons (never thrown).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { Codec, createCodec, KIND_HEADER, loadSchema, SCHEMA_FILES, SCHEMA_HEADER } from './codec.ts';
import { checkMessage } from './checks.ts';
import { MESSAGE_KINDS, type FeedbackMessage } from './messages.ts';
import { sampleMessages } from '../../test/kafka/support.ts';

const samples = sampleMessages();
const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('Codec', () => {
  const codec = createCodec();

  it.each(MESSAGE_KINDS)('round-trips a %s message and labels it with kind and writer fingerprint', (kind) => {
    const e = codec.encode(kind, samples[kind]);
    expect(Buffer.isBuffer(e.value)).toBe(true);
    expect(e.headers[KIND_HEADER]).toBe(kind);
    expect(e.headers[SCHEMA_HEADER]).toBe(codec.fingerprint(kind));
    const d = codec.decode(kind, e.value, e.headers);
    expect(d).toEqual({ ok: true, value: samples[kind] });
  });

  it('fingerprints are the sha256 of the newest schema file of each kind (64 hex chars, distinct per kind)', () => {
    for (const kind of MESSAGE_KINDS) {
      const files = SCHEMA_FILES[kind];
      const expected = avro.Type.forSchema(loadSchema(files[files.length - 1]!)).fingerprint('sha256').toString('hex');
      expect(codec.fingerprint(kind)).toBe(expected);
      expect(codec.fingerprint(kind)).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(MESSAGE_KINDS.map((k) => codec.fingerprint(k))).size).toBe(MESSAGE_KINDS.length);
  });

  it('reads v1 feedback (older writer) with the v3 reader: comment and label are null', () => {
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] });
    const { comment: _dropped, label: _label, ...v1Value } = samples.feedback;
    const e = v1.encode('feedback', v1Value as unknown as FeedbackMessage);
    expect(e.headers[SCHEMA_HEADER]).toBe(v1.fingerprint('feedback'));
    expect(v1.fingerprint('feedback')).not.toBe(codec.fingerprint('feedback'));
    const d = codec.decode('feedback', e.value, e.headers);
    expect(d).toEqual({ ok: true, value: { ...v1Value, comment: null, label: null } });
  });

  it('a v1-only reader does not know the v2 fingerprint (reported, not thrown)', () => {
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] });
    const e = codec.encode('feedback', samples.feedback);
    const d = v1.decode('feedback', e.value, e.headers);
    expect(d).toEqual({ ok: false, reason: `unknown feedback schema fingerprint ${codec.fingerprint('feedback')}` });
  });

  it('reports a missing value, a missing header, an unknown fingerprint, another kind\'s fingerprint, garbage and trailing bytes', () => {
    const e = codec.encode('feedback', samples.feedback);
    expect(codec.decode('feedback', null, e.headers)).toEqual({ ok: false, reason: 'empty message (no value)' });
    expect(codec.decode('feedback', e.value, {})).toEqual({ ok: false, reason: `missing '${SCHEMA_HEADER}' header` });
    expect(codec.decode('feedback', e.value, { [SCHEMA_HEADER]: 'f'.repeat(64) })).toEqual({ ok: false, reason: `unknown feedback schema fingerprint ${'f'.repeat(64)}` });
    const policyFp = codec.fingerprint('policy');
    expect(codec.decode('feedback', e.value, { [SCHEMA_HEADER]: policyFp })).toEqual({ ok: false, reason: `unknown feedback schema fingerprint ${policyFp}` });
    const garbage = codec.decode('feedback', Buffer.from('not avro at all'), e.headers);
    expect(garbage.ok).toBe(false);
    expect(!garbage.ok && garbage.reason).toMatch(/^cannot decode feedback: /);
    const trailing = codec.decode('feedback', Buffer.concat([e.value, Buffer.from([1, 2, 3])]), e.headers);
    expect(trailing).toEqual({ ok: false, reason: 'cannot decode feedback: trailing data' });
    const truncated = codec.decode('feedback', e.value.subarray(0, e.value.length - 3), e.headers);
    expect(truncated).toEqual({ ok: false, reason: 'cannot decode feedback: truncated buffer' });
  });

  it('encode throws for a value that does not fit the schema (a programming error)', () => {
    expect(() => codec.encode('feedback', { ...samples.feedback, score: 'high' as unknown as number })).toThrow();
    expect(() => codec.encode('request', { ...samples.request, priority: 'urgent' as 'high' })).toThrow();
  });

  it('a codec without a kind throws naming it', () => {
    const only = new Codec({ feedback: SCHEMA_FILES.feedback } as unknown as typeof SCHEMA_FILES);
    expect(() => only.encode('policy', samples.policy)).toThrow("no schema for message kind 'policy'");
    expect(() => only.fingerprint('request')).toThrow("no schema for message kind 'request'");
  });

  // Decodes in a child process, so a decoder that spins cannot hang the test runner.
  const decodeInChild = (kind: string, bytes: Buffer, timeoutMs: number) => {
    const code = [
      `import { Codec } from ${JSON.stringify(join(REPO, 'src/transports/codec.ts'))};`,
      'const codec = new Codec();',
      `const d = codec.decode(${JSON.stringify(kind)}, Buffer.from(process.argv[1], 'hex'), { 'llmo-schema': codec.fingerprint(${JSON.stringify(kind)}) });`,
      'process.stdout.write(JSON.stringify(d));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, bytes.toString('hex')], { cwd: REPO, timeout: timeoutMs, encoding: 'utf8' });
    return { timedOut: r.signal !== null, stderr: r.stderr, decoded: r.signal === null && r.stdout !== '' ? JSON.parse(r.stdout) as unknown : undefined };
  };
  /** policyId 'a', version 0, target 'a', then a params map block that claims `count` entries and ends. */
  const mapBomb = (count: number) => Buffer.concat([Buffer.from([2, 0x61, 0, 2, 0x61]), avro.Type.forSchema('long').toBuffer(count)]);

  it('(control) a policy whose params map claims 2^10 entries is reported as truncated, from a child process', () => {
    const r = decodeInChild('policy', mapBomb(2 ** 10), 20_000);
    expect(r.stderr).toBe('');
    expect(r.decoded).toEqual({ ok: false, reason: 'cannot decode policy: a block claims 1024 items but only 0 bytes are left' });
  }, 30_000);

  it('reports a policy whose params map claims 2^40 entries as undecodable within 5 s', () => {
    const r = decodeInChild('policy', mapBomb(2 ** 40), 5_000);
    expect(r.timedOut, 'decoder still spinning after 5 s').toBe(false);
    expect(r.decoded).toMatchObject({ ok: false });
  }, 30_000);
});

describe('checkMessage (inbound validation)', () => {
  it('accepts the valid samples of every kind', () => {
    for (const kind of MESSAGE_KINDS) expect(checkMessage(kind, samples[kind])).toBeUndefined();
  });

  it('rejects feedback with an empty metric or a non-finite score, naming the field', () => {
    expect(checkMessage('feedback', { ...samples.feedback, metric: '' })).toMatch(/^invalid feedback:\n[\s\S]*metric/);
    expect(checkMessage('feedback', { ...samples.feedback, score: Number.NaN })).toMatch(/^invalid feedback:\n[\s\S]*score/);
    expect(checkMessage('feedback', { ...samples.feedback, score: Number.POSITIVE_INFINITY })).toMatch(/score/);
  });

  it('rejects a policy whose param is not JSON text, and a negative version', () => {
    expect(checkMessage('policy', { ...samples.policy, params: { model: 'sim:fast' } })).toMatch(/^invalid policy:\n[\s\S]*params[\s\S]*must be JSON text/);
    expect(checkMessage('policy', { ...samples.policy, version: -1 })).toMatch(/version/);
  });
});
