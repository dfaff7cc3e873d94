/**
 * The in-memory run store: the full {@link RunStore} contract with no durability,
 * for tests and for engines that want run history without a file.
 * @module
 */
import * as z from 'zod';
import { StoreError } from '../errors.ts';
import { isLogger, type Logger } from '../logger.ts';
import { parseOptions } from '../runtime/options.ts';
import type { CancelRequest, ClaimRequest, NewRun, RetentionRequest, RunQuery, RunRecord, RunStore, StoredEvent } from '../runtime/store.ts';
import {
  ENDED, applyEvent, checkCancel, checkClaim, checkEvents, checkRunIds, claimable, jsonCopy, newRow, runExists, runNotFound, toRecord, type RunRow,
} from './rows.ts';
import { afterCursor, decodeCursor, encodeCursor, pageLimit } from './paging.ts';

/**
 * Schema of {@link MemoryStoreOptions}.
 *
 * @example
 * ```ts
 * MemoryStoreOptionsSchema.parse({});
 * ```
 */
export const MemoryStoreOptionsSchema = z.strictObject({
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
});

/**
 * Options of {@link createMemoryStore}.
 *
 * @example
 * ```ts
 * const options: MemoryStoreOptions = { logger: pino() };
 * ```
 */
export interface MemoryStoreOptions {
  /** Accepted for symmetry with the other stores; the memory store logs nothing. */
  readonly logger?: Logger;
}

/**
 * Creates an in-memory {@link RunStore}. It follows the same rules as the SQL stores
 * (ordered seqs, status derived from events, leases, waits, JSON round trip of every
 * value) but keeps everything in this process: nothing survives its exit.
 * Writes apply at once, each `append` call all or nothing.
 *
 * @example
 * ```ts
 * const store = createMemoryStore();
 * const engine = createEngine({ store });
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): RunStore {
  parseOptions(MemoryStoreOptionsSchema, options, 'createMemoryStore options');
  const rows = new Map<string, RunRow>();
  const logs = new Map<string, StoredEvent[]>();
  const cancels = new Map<string, CancelRequest>();
  let closed = false;

  const open = (): void => {
    if (closed) throw new StoreError('STORE_CLOSED', 'the memory store is closed');
  };
  const copy = (row: RunRow): RunRecord => jsonCopy(toRecord(row));

  return {
    kind: 'memory',
    location: 'memory:',

    async createRun(run: NewRun) {
      open();
      const row = newRow(run);
      if (rows.has(run.runId)) throw runExists(run.runId);
      // the first events fold into the row before it is kept: both or neither
      for (const e of run.events ?? []) applyEvent(row, e);
      rows.set(run.runId, jsonCopy(row));
      logs.set(run.runId, (run.events ?? []).map((e) => jsonCopy(e)));
    },

    async append(events: readonly StoredEvent[]) {
      open();
      checkEvents(events);
      // All or nothing: fold into copies of the rows, then swap them in.
      const touched = new Map<string, RunRow>();
      const added = new Map<string, StoredEvent[]>();
      for (const e of events) {
        let row = touched.get(e.runId);
        if (row === undefined) {
          const stored = rows.get(e.runId);
          if (stored === undefined) throw runNotFound(e.runId);
          row = { ...stored };
          touched.set(e.runId, row);
          added.set(e.runId, []);
        }
        applyEvent(row, e);
        added.get(e.runId)?.push(jsonCopy(e));
      }
      for (const [id, row] of touched) {
        rows.set(id, jsonCopy(row));
        logs.get(id)?.push(...(added.get(id) ?? []));
      }
    },

    async getRun(runId: string) {
      open();
      const row = rows.get(runId);
      return row === undefined ? undefined : copy(row);
    },

    async history(runId, range = {}) {
      open();
      const log = logs.get(runId);
      if (log === undefined) throw runNotFound(runId);
      return log
        .filter((e) => (range.fromSeq === undefined || e.seq >= range.fromSeq)
          && (range.toSeq === undefined || e.seq <= range.toSeq)
          && (range.untilTs === undefined || e.ts <= range.untilTs))
        .map((e) => jsonCopy(e));
    },

    async listRuns(query: RunQuery = {}) {
      open();
      const limit = pageLimit(query);
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const matching = [...rows.values()]
        .filter((r) => (query.status === undefined || query.status.includes(r.status))
          && (query.topology === undefined || r.topology === query.topology)
          && (query.tenant === undefined || r.tenant === query.tenant)
          && (after === undefined || afterCursor(r, after)))
        .sort((a, b) => b.createdAt - a.createdAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
      const page = matching.slice(0, limit);
      const last = page[page.length - 1];
      const runs = page.map(copy);
      return matching.length > limit && last !== undefined ? { runs, next: encodeCursor(last) } : { runs };
    },

    async claim(request: ClaimRequest) {
      open();
      checkClaim(request);
      const ids = request.runIds === undefined ? undefined : new Set(request.runIds);
      const taken: RunRecord[] = [];
      const candidates = [...rows.values()]
        .filter((r) => (ids === undefined || ids.has(r.runId)) && (request.topologies === undefined || request.topologies.includes(r.topology)))
        .sort((a, b) => a.updatedAt - b.updatedAt || (a.runId < b.runId ? -1 : 1));
      for (const row of candidates) {
        if (taken.length >= request.limit) break;
        if (!claimable(row, request)) continue;
        row.leaseOwner = request.owner;
        row.leaseUntil = request.now + request.leaseMs;
        taken.push(copy(row));
      }
      return taken;
    },

    async renew(owner, runIds, leaseMs, now) {
      open();
      const held: string[] = [];
      for (const id of runIds) {
        const row = rows.get(id);
        if (row?.leaseOwner !== owner) continue;
        row.leaseUntil = now + leaseMs;
        held.push(id);
      }
      return held;
    },

    async release(owner, runIds) {
      open();
      for (const id of runIds) {
        const row = rows.get(id);
        if (row?.leaseOwner !== owner) continue;
        delete row.leaseOwner;
        delete row.leaseUntil;
      }
    },

    async deleteRuns(request: RetentionRequest) {
      open();
      const statuses = request.status ?? ENDED;
      let n = 0;
      for (const [id, row] of rows) {
        if (!ENDED.includes(row.status) || !(statuses as readonly string[]).includes(row.status) || row.updatedAt >= request.endedBefore) continue;
        rows.delete(id);
        logs.delete(id);
        cancels.delete(id);
        n++;
      }
      return n;
    },

    async requestCancel(request: CancelRequest) {
      open();
      checkCancel(request);
      if (rows.get(request.runId)?.status !== 'running') return false;
      cancels.set(request.runId, jsonCopy(request));
      return true;
    },

    async cancelRequests(runIds: readonly string[]) {
      open();
      checkRunIds(runIds);
      return runIds.flatMap((id) => {
        const c = cancels.get(id);
        return c === undefined ? [] : [jsonCopy(c)];
      });
    },

    async close() {
      closed = true;
    },
  };
}
