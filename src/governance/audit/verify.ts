/**
 * Verification of hash-chained audit records: per stream, in the order given, each record's
 * hash must match its content, its seq follow the previous one's, and its prevHash be the
 * previous hash (the genesis hash for seq 0). The first problem of each stream is reported,
 * naming the fault: a `modified` record (its hash, or its link to the previous record, does not
 * match), a `missing` seq, records `reordered`, a `duplicate`, or a `bad-genesis` first record.
 * A stream cut at its end cannot be told from a shorter one: compare the `heads` with a head
 * kept elsewhere to detect that.
 * @module
 */
import { AUDIT_GENESIS, AuditRecordSchema, auditHash, auditHeads, type AuditHeads, type AuditRecord } from './record.ts';

/**
 * What is wrong with a stream, where: `seq` is the seq the chain expected at that point (for
 * `modified`, the record's own seq as far as it can be read), `index` the position in the input
 * of the record where the problem shows.
 *
 * @example
 * ```ts
 * const p: AuditProblem = { kind: 'missing', stream: 'acme', seq: 7, index: 12, message: 'seq 7 is missing: index 12 has seq 8' };
 * ```
 */
export interface AuditProblem {
  readonly kind: 'modified' | 'missing' | 'reordered' | 'duplicate' | 'bad-genesis';
  readonly stream: string;
  readonly seq: number;
  readonly index: number;
  readonly message: string;
}

/**
 * The outcome of {@link verifyAudit}.
 *
 * @example
 * ```ts
 * const v: AuditVerification = verifyAudit(records);
 * if (!v.ok) for (const p of v.problems) console.error(`${p.stream}: ${p.message}`);
 * ```
 */
export type AuditVerification =
  | { readonly ok: true; readonly count: number; readonly streams: number; readonly heads: AuditHeads }
  | { readonly ok: false; readonly count: number; readonly streams: number; readonly problems: readonly AuditProblem[] };

/** A record of a stream, or something in its place that is not a valid record (`invalid` says why). */
type Entry = { readonly record: AuditRecord; readonly index: number; readonly invalid?: undefined } | { readonly record?: undefined; readonly index: number; readonly seq: number; readonly invalid: string };

/** Stream and seq of something that is not a valid record, as far as they can be read. */
function whereOf(value: unknown): { stream: string; seq: number } {
  const v = (typeof value === 'object' && value !== null ? value : {}) as { stream?: unknown; seq?: unknown };
  return { stream: typeof v.stream === 'string' && v.stream !== '' ? v.stream : '(unreadable)', seq: Number.isSafeInteger(v.seq) && (v.seq as number) >= 0 ? v.seq as number : -1 };
}

/** The first problem of one stream's records (in input order), if any. */
function checkStream(stream: string, entries: readonly Entry[]): AuditProblem | undefined {
  const bySeqAfter = (seq: number, from: number): Entry | undefined => entries.slice(from).find((e) => e.record?.seq === seq);
  const seen = new Map<number, string>();
  let expected = 0;
  let prev = AUDIT_GENESIS;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const index = entry.index;
    const p = (kind: AuditProblem['kind'], seq: number, message: string): AuditProblem => ({ kind, stream, seq, index, message: `${stream}: ${message}` });
    if (entry.record === undefined) return p('modified', entry.seq, `record at index ${index} was modified: it is not a valid audit record (${entry.invalid})`);
    const r = entry.record;
    if (auditHash(r) !== r.hash) return p('modified', r.seq, `record at index ${index} (seq ${r.seq}) was modified: its hash does not match its content`);
    if (r.seq < expected) {
      return seen.get(r.seq) === r.hash
        ? p('duplicate', r.seq, `record at index ${index} repeats seq ${r.seq}`)
        : p('duplicate', r.seq, `record at index ${index} is a second, different record with seq ${r.seq}`);
    }
    if (r.seq > expected) {
      const later = bySeqAfter(expected, i + 1);
      if (later !== undefined) return p('reordered', expected, `record at index ${index} has seq ${r.seq} where seq ${expected} was expected; seq ${expected} comes later, at index ${later.index}`);
      const gap = r.seq - expected === 1 ? `seq ${expected} is missing` : `seqs ${expected} to ${r.seq - 1} are missing`;
      return p('missing', expected, `${gap}: the record at index ${index} has seq ${r.seq}`);
    }
    if (r.prevHash !== prev) {
      return r.seq === 0
        ? p('bad-genesis', 0, `the first record (index ${index}) does not start the chain: its prevHash is not the genesis hash`)
        : p('modified', r.seq, `record at index ${index} (seq ${r.seq}) does not link to seq ${r.seq - 1}: one of them was rewritten`);
    }
    seen.set(r.seq, r.hash);
    prev = r.hash;
    expected++;
  }
  return undefined;
}

/**
 * Verifies audit records (as read from a file or topic: anything that is not a valid record is
 * a `modified` problem at its index) and reports the first problem of each stream, or the
 * count, the number of streams and where each chain ends.
 *
 * @example
 * ```ts
 * const v = verifyAudit(await readAuditFile('audit.jsonl'));
 * console.log(v.ok ? `ok: ${v.count} records, ${v.streams} streams` : v.problems.map((p) => p.message).join('\n'));
 * ```
 */
export function verifyAudit(records: readonly unknown[]): AuditVerification {
  const streams = new Map<string, Entry[]>();
  const valid: AuditRecord[] = [];
  records.forEach((value, index) => {
    const parsed = AuditRecordSchema.safeParse(value);
    let stream: string;
    let entry: Entry;
    if (parsed.success) {
      valid.push(parsed.data);
      stream = parsed.data.stream;
      entry = { record: parsed.data, index };
    } else {
      const where = whereOf(value);
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') ?? '';
      stream = where.stream;
      entry = { index, seq: where.seq, invalid: typeof value === 'string' ? 'not JSON' : `${field === '' ? '' : `${field}: `}${issue?.message ?? 'invalid'}` };
    }
    const list = streams.get(stream) ?? [];
    list.push(entry);
    streams.set(stream, list);
  });
  const problems: AuditProblem[] = [];
  for (const [stream, entries] of streams) {
    const problem = checkStream(stream, entries);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length === 0) return { ok: true, count: records.length, streams: streams.size, heads: auditHeads(valid) };
  problems.sort((a, b) => a.index - b.index);
  return { ok: false, count: records.length, streams: streams.size, problems };
}
