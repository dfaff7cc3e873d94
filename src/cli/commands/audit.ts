/**
 * `llmo audit verify`: reads every audit record, from a JSONL file (`--file`), from the audit table of
 * a run store's database (`--store`: a SQLite file or `postgres://`), or from the audit topic from its beginning (Kafka flags as the other Kafka commands), verifies each stream's hash
 * chain and prints `ok: N records, M streams`, or the first problem of each stream (modified,
 * missing, reordered, duplicate, bad-genesis) with where it shows. Messages of the topic that
 * belong to no chain (v1/v2 data) are counted on stderr, not verified.
 *
 * Exit codes: 0 every chain intact, 1 a problem found, 2 invalid usage or an unreadable file,
 * 69/77 Kafka unreachable/refused.
 * @module
 */
import { readAuditFile, readAuditTopic, verifyAudit, type AuditVerification } from '../../governance/audit/index.ts';
import { openAuditStore } from '../../governance/audit/store.ts';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';
import { connectKafka } from '../connect.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { kafkaProblem, type OpenedKafka } from '../kafka.ts';

/**
 * Options of `llmo audit verify`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: AuditCommandOptions = { file: 'audit.jsonl', json: true };
 * ```
 */
export interface AuditCommandOptions extends KafkaFlags {
  /** A JSONL audit file to verify instead of the audit topic. */
  readonly file?: string | undefined;
  /** The audit records of a run store's database (`llmo_audit`) instead of the audit topic. */
  readonly store?: string | undefined;
  /** Print the verification as JSON. */
  readonly json?: boolean | undefined;
}

function report(io: Io, v: AuditVerification, json: boolean): number {
  if (json) {
    io.out.write(`${JSON.stringify(v.ok ? { ok: true, count: v.count, streams: v.streams } : { ok: false, count: v.count, streams: v.streams, problems: v.problems })}\n`);
  } else if (v.ok) {
    io.out.write(`ok: ${v.count} records, ${v.streams} streams\n`);
  } else {
    for (const p of v.problems) io.out.write(`${p.kind}: stream ${p.stream}, seq ${p.seq}, index ${p.index}: ${p.message}\n`);
    io.err.write(`llmo: ${v.problems.length} stream(s) of ${v.streams} have a problem (${v.count} records read)\n`);
  }
  return v.ok ? EXIT.ok : EXIT.runFailed;
}

/**
 * Runs `llmo audit verify`; resolves with the exit code. `open` makes the transport (default Kafka; tests pass a memory one).
 *
 * @example
 * ```ts
 * const code = await auditCommand('verify', { file: 'audit.jsonl' }, io); // 0 intact, 1 tampered
 * ```
 */
export async function auditCommand(verb: 'verify', opts: AuditCommandOptions, io: Io, open?: (options: KafkaTransportOptions) => OpenedKafka): Promise<number> {
  const json = opts.json === true;
  const sources = [opts.file !== undefined, opts.store !== undefined, opts.brokers !== undefined || opts.kafkaConfig !== undefined].filter(Boolean).length;
  if (sources > 1) return fail(io, `audit ${verb}: give one of --file, --store or the Kafka flags (--brokers, --kafka-config)`);
  if (opts.store !== undefined) {
    let records: unknown[];
    try {
      const store = await openAuditStore(opts.store);
      try {
        records = [...await store.read()];
      } finally {
        await store.close();
      }
    } catch (e) {
      return fail(io, `--store: cannot read the audit records: ${e instanceof Error ? e.message : String(e)}`);
    }
    return report(io, verifyAudit(records), json);
  }
  if (opts.file !== undefined) {
    let records: unknown[];
    try {
      records = await readAuditFile(opts.file);
    } catch (e) {
      return fail(io, `--file: cannot read ${opts.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return report(io, verifyAudit(records), json);
  }
  const c = await connectKafka(opts, io, 'llmo-audit', open);
  if (!c.ok) return c.code;
  const { transport, where } = c;
  try {
    const read = await readAuditTopic(transport);
    if (read.unchained > 0) io.err.write(`llmo: ${read.unchained} message(s) in ${transport.topics.audit} belong to no hash chain (written before audit v3): not verified\n`);
    return report(io, verifyAudit(read.records), json);
  } catch (e) {
    const p = kafkaProblem(where, e);
    return fail(io, p.message, p.code);
  } finally {
    await transport.close().catch(() => undefined);
  }
}
