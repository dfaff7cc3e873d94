// CRC-64-AVRO against the Avro project's shared test vectors (share/test/data/schema-tests.txt, the
// fingerprints there are Java longs, i.e. signed) and the single-object header the Ruby tests give for "int".
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { canonicalForm, crc64Avro, rabinFingerprint } from './crc64.ts';

/** [input schema, canonical form, fingerprint as a signed 64-bit decimal] */
const VECTORS: readonly (readonly [unknown, string, string])[] = [
  ['null', '"null"', '7195948357588979594'],
  ['boolean', '"boolean"', '-6970731678124411036'],
  ['int', '"int"', '8247732601305521295'],
  ['long', '"long"', '-3434872931120570953'],
  ['float', '"float"', '5583340709985441680'],
  ['double', '"double"', '-8181574048448539266'],
  ['bytes', '"bytes"', '5746618253357095269'],
  ['string', '"string"', '-8142146995180207161'],
  [['int'], '["int"]', '-5232228896498058493'],
  [['int', { type: 'boolean' }], '["int","boolean"]', '5392556393470105090'],
  [{ fields: [], type: 'record', name: 'foo' }, '{"name":"foo","type":"record","fields":[]}', '-4824392279771201922'],
  [{ fields: [], type: 'record', name: 'foo', namespace: 'x.y' }, '{"name":"x.y.foo","type":"record","fields":[]}', '5916914534497305771'],
  [{ fields: [], type: 'record', name: 'a.b.foo', namespace: 'x.y' }, '{"name":"a.b.foo","type":"record","fields":[]}', '-4616218487480524110'],
  [{ fields: [], type: 'record', name: 'foo', doc: 'foo', aliases: ['foo', 'bar'] }, '{"name":"foo","type":"record","fields":[]}', '-4824392279771201922'],
  [{ fields: [{ type: { type: 'boolean' }, name: 'f1' }], type: 'record', name: 'foo' }, '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', '7843277075252814651'],
  [
    { fields: [{ type: 'boolean', aliases: [], name: 'f1', default: true }, { order: 'descending', name: 'f2', doc: 'Hello', type: 'int' }], type: 'record', name: 'foo' },
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}', '-4860222112080293046',
  ],
  [{ type: 'enum', name: 'foo', symbols: ['A1'] }, '{"name":"foo","type":"enum","symbols":["A1"]}', '-6342190197741309591'],
  [{ namespace: 'x.y.z', type: 'enum', name: 'foo', doc: 'foo bar', symbols: ['A1', 'A2'] }, '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}', '-4448647247586288245'],
  [{ name: 'foo', type: 'fixed', size: 15 }, '{"name":"foo","type":"fixed","size":15}', '1756455273707447556'],
  [{ namespace: 'x.y.z', type: 'fixed', name: 'foo', doc: 'foo bar', size: 32 }, '{"name":"x.y.z.foo","type":"fixed","size":32}', '-3064184465700546786'],
  [{ items: { type: 'null' }, type: 'array' }, '{"type":"array","items":"null"}', '-589620603366471059'],
  [{ values: 'string', type: 'map' }, '{"type":"map","values":"string"}', '-8732877298790414990'],
  [
    { name: 'PigValue', type: 'record', fields: [{ name: 'value', type: ['null', 'int', 'long', 'PigValue'] }] },
    '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}', '-1759257747318642341',
  ],
];

describe('CRC-64-AVRO', () => {
  it.each(VECTORS)('%j: canonical form and fingerprint match the Avro test vectors', (schema, canonical, signed) => {
    const type = avro.Type.forSchema(schema as avro.Schema);
    expect(canonicalForm(type)).toBe(canonical);
    expect(crc64Avro(canonical)).toBe(BigInt.asUintN(64, BigInt(signed)));
    expect(rabinFingerprint(type).readBigInt64LE()).toBe(BigInt(signed));
  });

  it('"int" gives the single-object header bytes of the Avro Ruby tests (little-endian after C3 01)', () => {
    expect(crc64Avro('"int"')).toBe(0x7275d51a3f395c8fn);
    expect([...Buffer.concat([Buffer.from([0xc3, 0x01]), rabinFingerprint(avro.Type.forSchema('int'))])])
      .toEqual([0xc3, 0x01, 0x8f, 0x5c, 0x39, 0x3f, 0x1a, 0xd5, 0x75, 0x72]);
  });

  it('the fingerprint of no bytes is the EMPTY constant; bytes and their UTF-8 string agree', () => {
    expect(crc64Avro('')).toBe(0xc15d213aa4d7a795n);
    expect(crc64Avro(Buffer.from('"wörld"', 'utf8'))).toBe(crc64Avro('"wörld"'));
  });
});
