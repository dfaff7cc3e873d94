// `llmo policy show|apply|rollback` on the memory transport (the Kafka path with an injected transport):
// versions numbered after what the topic holds, documents validated with the loop's schema (fields named),
// rollback as a new version, refused updates left out of `show`.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { policyCommand } from './commands/policy.ts';
import { EXIT } from './exit.ts';
import type { KafkaTransport } from '../transports/kafka/index.ts';
import { createMemoryTransport } from '../transports/index.ts';
import type { PolicyUpdateMessage } from '../transports/messages.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

const memory = (): KafkaTransport => Object.assign(createMemoryTransport({ prefix: 'pt' }), { ensureTopics: async () => undefined, close: async () => undefined });
const flags = { brokers: '127.0.0.1:9092', prefix: 'pt' };

function published(transport: KafkaTransport): PolicyUpdateMessage[] {
  const out: PolicyUpdateMessage[] = [];
  transport.read('policy', { fromBeginning: true }).subscribe((m) => out.push(m.value)).unsubscribe();
  return out;
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llmo-policy-'));
});

const file = async (name: string, text: string): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

describe('llmo policy', () => {
  it('apply numbers versions after the topic, show prints the current one, rollback republishes an older document as a new version', async () => {
    const transport = memory();
    const open = () => ({ ok: true as const, transport });
    const v1 = await file('v1.json', JSON.stringify({ target: 'qa', document: { nodes: { answer: { model: 'sim:small', temperature: 0.3 } } }, reason: 'cheaper' }));
    const v2 = await file('v2.yaml', 'target: qa\npolicyId: opt-7\ndocument:\n  nodes:\n    answer:\n      model: sim:large\n  evaluation:\n    sampleRate: 0.5\n');
    const a = capture();
    expect(await policyCommand('apply', v1, flags, a.io, open), a.err()).toBe(EXIT.ok);
    expect(JSON.parse(a.out())).toMatchObject({ target: 'qa', version: 1, policyId: 'llmo-cli', reason: 'cheaper', document: { nodes: { answer: { model: 'sim:small', temperature: 0.3 } } } });
    expect(await policyCommand('apply', v2, flags, capture().io, open)).toBe(EXIT.ok);
    expect(published(transport).map((p) => [p.target, p.version, p.policyId])).toEqual([['qa', 1, 'llmo-cli'], ['qa', 2, 'opt-7']]);
    expect(published(transport)[1]!.params).toEqual({ nodes: '{"answer":{"model":"sim:large"}}', evaluation: '{"sampleRate":0.5}' });

    const s = capture();
    expect(await policyCommand('show', undefined, flags, s.io, open)).toBe(EXIT.ok);
    expect((JSON.parse(s.out()) as { version: number }[]).map((p) => p.version)).toEqual([2]);
    const h = capture();
    expect(await policyCommand('show', 'qa', { ...flags, history: true }, h.io, open)).toBe(EXIT.ok);
    expect((JSON.parse(h.out()) as { version: number }[]).map((p) => p.version)).toEqual([1, 2]);

    const r = capture();
    expect(await policyCommand('rollback', 'qa', flags, r.io, open), r.err()).toBe(EXIT.ok);
    expect(JSON.parse(r.out())).toMatchObject({ target: 'qa', version: 3, reason: 'rollback to v1', document: { nodes: { answer: { model: 'sim:small', temperature: 0.3 } } } });
    const missing = capture();
    expect(await policyCommand('rollback', 'qa', { ...flags, to: 9 }, missing.io, open)).toBe(EXIT.invalid);
    expect(missing.err()).toContain("--to: 'qa' has no version 9 in pt.policies (versions: 1, 2, 3; older ones may have been compacted away)");
    const none = capture();
    expect(await policyCommand('rollback', 'other', flags, none.io, open)).toBe(EXIT.invalid);
    expect(none.err()).toContain("no policy for 'other' in pt.policies");
    expect(published(transport)).toHaveLength(3);
  });

  it('refuses a bad document naming the field, a version not above the current one, and a node the topology lacks; nothing is published', async () => {
    const transport = memory();
    let opened = 0;
    const open = () => { opened++; return { ok: true as const, transport }; };
    const bad = await file('bad.json', JSON.stringify({ target: 'qa', document: { nodes: { answer: { temperature: 5 } }, canary: { percent: 5 } } }));
    const c = capture();
    expect(await policyCommand('apply', bad, flags, c.io, open)).toBe(EXIT.invalid);
    expect(c.err()).toContain('document.nodes.answer.temperature');
    expect(c.err()).toContain('document.canary');
    const shape = await file('shape.json', JSON.stringify({ document: {}, extra: 1 }));
    const d = capture();
    expect(await policyCommand('apply', shape, flags, d.io, open)).toBe(EXIT.invalid);
    expect(d.err()).toMatch(/target/);
    expect(d.err()).toMatch(/extra/);
    const node = await file('node.json', JSON.stringify({ target: 'qa', document: { nodes: { nope: { model: 'sim:x' } } } }));
    const e = capture();
    expect(await policyCommand('apply', node, { ...flags, topology: 'test/fixtures/qa-loop.ts' }, e.io, open)).toBe(EXIT.invalid);
    expect(e.err()).toContain("document.nodes.nope: overrides missing node 'nope' of topology 'qa'");
    expect(opened).toBe(0); // refused before any broker
    expect(published(transport)).toHaveLength(0);

    await transport.send('policy', [{ key: 'qa', value: { policyId: 'x', version: 4, target: 'qa', params: {}, reason: null, ts: 1 } }]);
    const stale = await file('stale.json', JSON.stringify({ target: 'qa', version: 4, document: {} }));
    const f = capture();
    expect(await policyCommand('apply', stale, flags, f.io, open)).toBe(EXIT.invalid);
    expect(f.err()).toContain('version: 4 is not above the current version 4');
  });

  it('show leaves out updates the loops refuse (unknown fields, stale versions) and says how many', async () => {
    const transport = memory();
    await transport.send('policy', [
      { key: 'qa', value: { policyId: 'a', version: 2, target: 'qa', params: { nodes: '{"answer":{"model":"sim:a"}}' }, reason: null, ts: 1 } },
      { key: 'qa', value: { policyId: 'b', version: 3, target: 'qa', params: { colour: '"blue"' }, reason: null, ts: 2 } },
      { key: 'qa', value: { policyId: 'c', version: 1, target: 'qa', params: {}, reason: null, ts: 3 } },
      { key: 'rag', value: { policyId: 'd', version: 1, target: 'rag', params: {}, reason: null, ts: 4 } },
    ]);
    const c = capture();
    expect(await policyCommand('show', undefined, flags, c.io, () => ({ ok: true, transport }))).toBe(EXIT.ok);
    expect((JSON.parse(c.out()) as { target: string; policyId: string }[]).map((p) => `${p.target}:${p.policyId}`)).toEqual(['qa:a', 'rag:d']);
    expect(c.err()).toContain('2 update(s) in pt.policies are refused');
  });
});
