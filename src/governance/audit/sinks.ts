/**
 * Audit sinks: in memory (tests, a process's own view) and a JSONL file (one canonical JSON
 * record a line, append-only, fsync on flush), and the reader of such a file.
 * @module
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { OrchestratorError } from '../../errors.ts';
import { canonicalJson } from './canonical.ts';
import type { AuditSink } from './types.ts';
import type { AuditRecord } from './record.ts';

/**
 * An in-memory sink: `records` in append order.
 *
 * @example
 * ```ts
 * const sink = createMemoryAuditSink();
 * const log = createAuditLog({ sink });
 * await log.append({ actor: 'a', action: 'admin.test' });
 * sink.records.length; // 1
 * ```
 */
export interface MemoryAuditSink extends AuditSink {
  readonly records: readonly AuditRecord[];
}

/**
 * Makes a {@link MemoryAuditSink}.
 *
 * @example
 * ```ts
 * const sink = createMemoryAuditSink();
 * ```
 */
export function createMemoryAuditSink(): MemoryAuditSink {
  const records: AuditRecord[] = [];
  return {
    records,
    write: async (batch) => { records.push(...batch); },
  };
}

/**
 * Makes a sink appending records to a JSONL file (created if missing; existing lines are kept:
 * continue its chains with the `heads` of `verifyAudit(await readAuditFile(path))`). `flush` and `close`
 * fsync the file. Open and write errors reject (`AUDIT_FILE_FAILED`).
 *
 * @example
 * ```ts
 * const log = createAuditLog({ sink: createJsonlAuditSink('/var/log/llmo/audit.jsonl') });
 * ```
 */
export function createJsonlAuditSink(path: string): AuditSink {
  let handle: Promise<FileHandle> | undefined;
  const failed = (what: string, e: unknown): OrchestratorError =>
    new OrchestratorError('AUDIT_FILE_FAILED', `cannot ${what} audit file ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retriable: true });
  const file = (): Promise<FileHandle> => {
    handle ??= open(path, 'a').catch((e: unknown) => {
      handle = undefined; // not remembered: the next write tries again
      throw failed('open', e);
    });
    return handle;
  };
  return {
    async write(records) {
      const fh = await file();
      try {
        await fh.appendFile(records.map((r) => `${canonicalJson(r)}\n`).join(''), 'utf8');
      } catch (e) {
        throw failed('append to', e);
      }
    },
    async flush() {
      if (handle === undefined) return;
      const fh = await file();
      try {
        await fh.sync();
      } catch (e) {
        throw failed('fsync', e);
      }
    },
    async close() {
      if (handle === undefined) return;
      const fh = await handle;
      handle = undefined;
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
  };
}

/**
 * Reads a JSONL audit file: each non-empty line parsed as JSON, or, when a line is not JSON,
 * the raw line as a string (`verifyAudit` reports it as modified). Rejects when the file cannot be read.
 *
 * @example
 * ```ts
 * const result = verifyAudit(await readAuditFile('audit.jsonl'));
 * ```
 */
export async function readAuditFile(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8');
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as unknown);
    } catch {
      out.push(line);
    }
  }
  return out;
}
