/**
 * `--audit <target>`: where a command's engine writes its audit records (run start and end,
 * model calls, guard decisions; hash-chained per stream, PII masked):
 * - a `.jsonl` file (appended; its chains continue),
 * - a run store database (a SQLite file, `sqlite:`/`file:` URL or `postgres://…`): the `llmo_audit` table,
 * - `kafka` (`llmo worker` only): the audit topic, keyed by stream.
 *
 * Each process writes its own streams (`<actor>/<tenant or global>`), so two processes never
 * extend one chain. A record that cannot be written is an error line (and the log's health
 * counts it), never dropped quietly. `llmo audit verify` checks what was written.
 * @module
 */
import type { Observable, Subscription } from 'rxjs';
import { auditEvents } from '../governance/audit/events.ts';
import { createAuditLog } from '../governance/audit/log.ts';
import { auditHeads, AuditRecordSchema, type AuditHeads, type AuditRecord } from '../governance/audit/record.ts';
import { createJsonlAuditSink, readAuditFile } from '../governance/audit/sinks.ts';
import { createKafkaAuditSink, readAuditTopic } from '../governance/audit/kafka.ts';
import { openAuditStore } from '../governance/audit/store.ts';
import type { AuditLog, AuditSink } from '../governance/audit/types.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { Transport } from '../transports/transport.ts';
import { redactUrl } from '../stores/url.ts';

/**
 * An opened `--audit` target.
 *
 * @example
 * ```ts
 * const audit = await openCliAudit('audit.jsonl', { actor: 'llmo-run', onError: (m) => io.err.write(`${m}\n`) });
 * const sub = audit.attach(engine.events$);
 * ```
 */
export interface CliAudit {
  /** Writes the engine's events as audit records until unsubscribed (each to its run's tenant's stream). */
  attach(events$: Observable<EngineEvent>): Subscription;
  /** The log itself (admin actions, health). */
  readonly log: AuditLog;
  /** What it writes to, for messages. */
  readonly where: string;
  /** Flushes and closes the log and its sink. */
  close(): Promise<void>;
}

/**
 * Opens `--audit <target>`; rejects with an Error naming the target when it cannot be opened or read.
 * `transport` is needed for `kafka`.
 *
 * @example
 * ```ts
 * const audit = await openCliAudit('postgres://llmo:llmo@127.0.0.1:55432/llmo', { actor: worker.id, onError });
 * ```
 */
export async function openCliAudit(
  target: string,
  deps: { readonly actor: string; readonly onError: (message: string) => void; readonly transport?: Pick<Transport, 'send' | 'read'> | undefined },
): Promise<CliAudit> {
  let sink: AuditSink;
  let heads: AuditHeads;
  let where: string;
  if (target === 'kafka') {
    if (deps.transport === undefined) throw new Error('--audit kafka needs a Kafka transport (llmo worker)');
    const read = await readAuditTopic(deps.transport);
    heads = auditHeads(parseRecords(read.records, 'the audit topic'));
    sink = createKafkaAuditSink(deps.transport);
    where = 'the audit topic';
  } else if (target.endsWith('.jsonl')) {
    heads = auditHeads(await readJsonl(target));
    sink = createJsonlAuditSink(target);
    where = target;
  } else {
    const store = await openAuditStore(target);
    heads = await store.heads();
    sink = store;
    where = `the audit table of ${redactUrl(target)}`;
  }
  const prefix = `${deps.actor}/`;
  const own: Record<string, { seq: number; hash: string }> = {};
  for (const [stream, h] of Object.entries(heads)) if (stream.startsWith(prefix)) own[stream] = h;
  const log = createAuditLog({ sink, heads: own, streamOf: (entry) => `${prefix}${entry.tenant ?? 'global'}` });
  const fail = (e: unknown): void => deps.onError(`audit: a record could not be written to ${where}: ${e instanceof Error ? e.message : String(e)}`);
  return {
    log,
    where,
    attach: (events$) => auditEvents(events$, log, { actor: deps.actor, onError: fail }),
    close: () => log.close(),
  };
}

/** The records of a JSONL file (none when it does not exist yet); a bad line is an error naming it. */
async function readJsonl(path: string): Promise<AuditRecord[]> {
  let lines: unknown[];
  try {
    lines = await readAuditFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseRecords(lines, path);
}

/** Records read back, checked; one that is not a record is an error naming where (verify before appending). */
function parseRecords(values: readonly unknown[], where: string): AuditRecord[] {
  return values.map((v, i) => {
    const r = AuditRecordSchema.safeParse(v);
    if (!r.success) throw new Error(`${where}: record ${i + 1} is not an audit record; check it with llmo audit verify before appending to it`);
    return r.data;
  });
}
