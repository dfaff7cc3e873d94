// verifyAudit: an intact log verifies; each injected fault (a flipped byte, a dropped record, two
// swapped records, a repeated record, a chain that does not start at genesis) is named precisely,
// at the first record where it shows, per stream; property tests over random logs and faults (fixed seeds).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical.ts';
import { createAuditLog } from './log.ts';
import { AUDIT_GENESIS, sealAudit, type AuditRecord } from './record.ts';
import { createMemoryAuditSink } from './sinks.ts';
import { verifyAudit, type AuditProblem } from './verify.ts';

const STREAMS = ['global', 'acme', 'zeta'] as const;

/** A log of `plan.length` records: plan[i] is the stream index of record i. */
async function makeLog(plan: readonly number[], words: readonly string[] = ['ok']): Promise<AuditRecord[]> {
  const sink = createMemoryAuditSink();
  let now = 1_700_000_000_000;
  const log = createAuditLog({ sink, clock: () => now++, redact: false });
  await Promise.all(plan.map((s, i) => log.append({
    stream: STREAMS[s % STREAMS.length]!, actor: `user-${i % 4}`, action: i % 2 === 0 ? 'run.started' : 'model.call', runId: `run-${i}`,
    details: { i, word: words[i % words.length]!, nested: { list: [i, 'x', null, true] } },
  })));
  return [...sink.records];
}

const first = (problems: readonly AuditProblem[]): AuditProblem | undefined => problems[0];
const problemsOf = (records: readonly unknown[]): readonly AuditProblem[] => {
  const v = verifyAudit(records);
  return v.ok ? [] : v.problems;
};

describe('verifyAudit', () => {
  it('an intact log of three streams verifies: count, streams and each stream\'s head', async () => {
    const records = await makeLog([0, 1, 2, 0, 0, 1, 2, 2, 2, 0]);
    const v = verifyAudit(records);
    expect(v).toMatchObject({ ok: true, count: 10, streams: 3 });
    expect(v.ok && v.heads).toEqual({ global: { seq: 3, hash: records[9]!.hash }, acme: { seq: 1, hash: records[5]!.hash }, zeta: { seq: 3, hash: records[8]!.hash } });
    expect(records.filter((r) => r.stream === 'acme').map((r) => r.seq)).toEqual([0, 1]);
    expect(records[0]!.prevHash).toBe(AUDIT_GENESIS);
    expect(verifyAudit([])).toMatchObject({ ok: true, count: 0, streams: 0 });
  });

  it('flip one byte: the record is named modified (a byte of a JSONL line, and a field changed in place)', async () => {
    const records = await makeLog([0, 0, 0, 0, 0, 0]);
    const lines = records.map((r) => canonicalJson(r));
    const line = Buffer.from(lines[3]!);
    const at = lines[3]!.indexOf('"actor":"user-3"') + '"actor":"user-'.length;
    line[at] = '4'.charCodeAt(0);
    const flipped = lines.map((l, i) => JSON.parse(i === 3 ? line.toString() : l) as unknown);
    expect(problemsOf(flipped)).toEqual([{ kind: 'modified', stream: 'global', seq: 3, index: 3, message: 'global: record at index 3 (seq 3) was modified: its hash does not match its content' }]);
    const inPlace = records.map((r, i) => (i === 2 ? { ...r, details: { ...(r.details as object), word: 'oK' } } : r));
    expect(first(problemsOf(inPlace))).toMatchObject({ kind: 'modified', stream: 'global', seq: 2, index: 2 });
  });

  it('drop one record: the seq is named missing, at the record after the gap', async () => {
    const records = await makeLog([0, 0, 0, 0, 0, 0]);
    const dropped = records.filter((_, i) => i !== 2);
    expect(problemsOf(dropped)).toEqual([{ kind: 'missing', stream: 'global', seq: 2, index: 2, message: 'global: seq 2 is missing: the record at index 2 has seq 3' }]);
    expect(first(problemsOf(records.slice(1)))).toMatchObject({ kind: 'missing', seq: 0, index: 0 });
    expect(first(problemsOf(records.filter((_, i) => i !== 1 && i !== 2)))?.message).toBe('global: seqs 1 to 2 are missing: the record at index 1 has seq 3');
  });

  it('swap two records: reordered at the first of them', async () => {
    const records = await makeLog([0, 0, 0, 0, 0, 0]);
    const swapped = [...records];
    [swapped[1], swapped[4]] = [swapped[4]!, swapped[1]!];
    expect(problemsOf(swapped)).toEqual([{
      kind: 'reordered', stream: 'global', seq: 1, index: 1,
      message: 'global: record at index 1 has seq 4 where seq 1 was expected; seq 1 comes later, at index 4',
    }]);
  });

  it('names a repeated record, a second record with a used seq, a chain not starting at genesis, and a relinked record', async () => {
    const records = await makeLog([0, 0, 0, 0]);
    expect(problemsOf([...records.slice(0, 3), records[1]!, records[3]!])).toEqual([{ kind: 'duplicate', stream: 'global', seq: 1, index: 3, message: 'global: record at index 3 repeats seq 1' }]);
    const forged = sealAudit({ ...records[1]!, actor: 'mallory' });
    expect(first(problemsOf([...records.slice(0, 3), forged]))).toMatchObject({ kind: 'duplicate', seq: 1, index: 3, message: 'global: record at index 3 is a second, different record with seq 1' });
    const notGenesis = sealAudit({ ...records[0]!, prevHash: 'f'.repeat(64) });
    expect(problemsOf([notGenesis])).toEqual([{ kind: 'bad-genesis', stream: 'global', seq: 0, index: 0, message: 'global: the first record (index 0) does not start the chain: its prevHash is not the genesis hash' }]);
    // a record rewritten with a fresh hash: the next record's link shows it
    const rewritten = sealAudit({ ...records[1]!, actor: 'mallory' });
    expect(first(problemsOf([records[0]!, rewritten, records[2]!]))).toMatchObject({ kind: 'modified', seq: 2, index: 2, message: 'global: record at index 2 (seq 2) does not link to seq 1: one of them was rewritten' });
  });

  it('something that is not a record is modified at its index (unparsable line, a field of the wrong type)', async () => {
    const records = await makeLog([0, 1, 0, 1]);
    expect(problemsOf([records[0], '{"stream":"glo', records[2], records[3]])).toEqual([
      { kind: 'modified', stream: '(unreadable)', seq: -1, index: 1, message: '(unreadable): record at index 1 was modified: it is not a valid audit record (not JSON)' },
      { kind: 'missing', stream: 'acme', seq: 0, index: 3, message: 'acme: seq 0 is missing: the record at index 3 has seq 1' },
    ]);
    expect(first(problemsOf([records[0], { ...records[1]!, seq: 'zero' }, records[2], records[3]]))).toMatchObject({ kind: 'modified', stream: 'acme', index: 1, message: expect.stringContaining('(seq: ') });
  });

  it('reports the first problem of each stream, ordered by index', async () => {
    const records = await makeLog([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    const faulty = records.filter((_, i) => i !== 3); // global seq 1 gone
    faulty[4] = { ...faulty[4]!, ts: faulty[4]!.ts + 1 }; // a zeta record (seq 1) modified
    const v = verifyAudit(faulty);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.problems.map((p) => [p.kind, p.stream, p.seq, p.index])).toEqual([['modified', 'zeta', 1, 4], ['missing', 'global', 1, 5]]);
    expect(v.streams).toBe(3);
  });
});

type Fault =
  | { readonly kind: 'flip'; readonly record: number; readonly byte: number; readonly to: number }
  | { readonly kind: 'drop'; readonly record: number }
  | { readonly kind: 'swap'; readonly a: number; readonly b: number }
  | { readonly kind: 'duplicate'; readonly record: number; readonly after: number };

/** Applies a fault to the JSONL lines of a log; returns what is read back and the problem expected first. */
function inject(records: readonly AuditRecord[], f: Fault): { read: unknown[]; expected: Partial<AuditProblem> } | undefined {
  const lines = records.map((r) => canonicalJson(r));
  const parse = (l: string): unknown => { try { return JSON.parse(l) as unknown; } catch { return l; } };
  const n = records.length;
  const sameStreamAfter = (i: number): number => records.findIndex((r, j) => j > i && r.stream === records[i]!.stream);
  switch (f.kind) {
    case 'flip': {
      const i = f.record % n;
      const buf = Buffer.from(lines[i]!);
      const at = f.byte % buf.length;
      const to = 0x20 + (f.to % 95);
      if (buf[at] === to) return undefined;
      buf[at] = to;
      const changed = [...lines];
      changed[i] = buf.toString();
      return { read: changed.map(parse), expected: { kind: 'modified', index: i } };
    }
    case 'drop': {
      const i = f.record % n;
      const next = sameStreamAfter(i);
      if (next < 0) return undefined; // the end of a stream: nothing after it shows the cut
      return { read: lines.filter((_, j) => j !== i).map(parse), expected: { kind: 'missing', stream: records[i]!.stream, seq: records[i]!.seq, index: next - 1 } };
    }
    case 'swap': {
      const a = f.a % n;
      const same = records.map((_, j) => j).filter((j) => j > a && records[j]!.stream === records[a]!.stream);
      if (same.length === 0) return undefined;
      const b = same[f.b % same.length]!;
      const swapped = [...lines];
      [swapped[a], swapped[b]] = [swapped[b]!, swapped[a]!];
      return { read: swapped.map(parse), expected: { kind: 'reordered', stream: records[a]!.stream, seq: records[a]!.seq, index: a } };
    }
    case 'duplicate': {
      const i = f.record % n;
      const after = i + (f.after % (n - i)); // insert the copy after position `after` >= i
      const read = [...lines.slice(0, after + 1), lines[i]!, ...lines.slice(after + 1)].map(parse);
      return { read, expected: { kind: 'duplicate', stream: records[i]!.stream, seq: records[i]!.seq, index: after + 1 } };
    }
  }
}

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), record: fc.nat(), byte: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), record: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), record: fc.nat(), after: fc.nat() }),
);

describe('verifyAudit (property: random logs, one random fault)', () => {
  it('an intact random log verifies; any single fault is named at the first record where it shows', async () => {
    const injectedKinds: Record<string, number> = {};
    const word = fc.string({ unit: fc.constantFrom(...'abcdefghij KLMNOP-_.:/0123456789'.split('')), maxLength: 12 });
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 30 }), fc.array(word, { minLength: 1, maxLength: 4 }), fault,
      async (plan, words, f) => {
        const records = await makeLog(plan, words);
        expect(verifyAudit(records).ok).toBe(true);
        const injected = inject(records, f);
        if (injected === undefined) return;
        injectedKinds[f.kind] = (injectedKinds[f.kind] ?? 0) + 1;
        const problems = problemsOf(injected.read);
        expect(first(problems), JSON.stringify(f)).toMatchObject(injected.expected);
      },
    ), { seed: 13_006, numRuns: 600 });
    // not vacuous: every kind of fault was injected many times
    for (const kind of ['flip', 'drop', 'swap', 'duplicate']) expect(injectedKinds[kind] ?? 0, kind).toBeGreaterThan(60);
  });

  it('faults in several streams: each stream names its own first fault', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 3, max: 12 }), fc.nat(), fc.nat(), async (perStream, x, y) => {
      const plan = Array.from({ length: perStream * 3 }, (_, i) => i % 3);
      const records = await makeLog(plan);
      const g = (x % (perStream - 1)) * 3; // a global record that is not its stream's last
      const a = 1 + (y % (perStream - 1)) * 3; // an acme record that is not its stream's last
      const read: unknown[] = records.map((r, i) => (i === a ? { ...r, actor: `${r.actor}!` } : r)).filter((_, i) => i !== g);
      const v = verifyAudit(read);
      expect(v.ok).toBe(false);
      const byStream = Object.fromEntries((v.ok ? [] : v.problems).map((p) => [p.stream, p]));
      expect(byStream.global).toMatchObject({ kind: 'missing', seq: g / 3, index: g + 3 - 1 });
      expect(byStream.acme).toMatchObject({ kind: 'modified', seq: (a - 1) / 3, index: a > g ? a - 1 : a });
      expect(byStream.zeta).toBeUndefined();
    }), { seed: 13_007, numRuns: 100 });
  });
});
