/**
 * What every store derives the same way: a run's row from its events, the
 * checks on appended events and the claim rule (list paging: `paging.ts`).
 * The memory, SQLite and PostgreSQL stores share this so they agree.
 * @module
 */
import { StoreError, type SerializedError } from '../errors.ts';
import { ENDED_STATUSES, type CancelRequest, type ClaimRequest, type NewRun, type RunRecord, type StoredEvent, type StoredRunStatus } from '../runtime/store.ts';

/**
 * A run's row as stores keep it: the public record plus whether a `run.signalled`
 * came after the last `run.waiting` (what `claim({ wakeable: true })` looks at).
 *
 * @example
 * ```ts
 * const row: RunRow = { ...rowOf(newRun), signalled: false };
 * ```
 */
export interface RunRow {
  runId: string;
  topology: string;
  version: string;
  status: StoredRunStatus;
  input: unknown;
  tenant?: string;
  forkOf?: { readonly runId: string; readonly nodeId: string };
  createdAt: number;
  updatedAt: number;
  lastSeq: number;
  output?: unknown;
  error?: SerializedError;
  leaseOwner?: string;
  leaseUntil?: number;
  wait?: { readonly nodeId: string; readonly name: string; readonly timeoutAt?: number };
  signalled: boolean;
}

/**
 * The statuses of ended runs.
 *
 * @example
 * ```ts
 * if (ENDED.includes(row.status)) console.log('done');
 * ```
 */
export const ENDED: readonly StoredRunStatus[] = ENDED_STATUSES;

/**
 * The row of a run just created: `running`, leased to its creator, no events yet.
 *
 * @example
 * ```ts
 * const row = newRow(run);
 * ```
 */
export function newRow(run: NewRun): RunRow {
  checkNewRun(run);
  const row: RunRow = {
    runId: run.runId, topology: run.topology, version: run.version, status: 'running', input: run.input,
    createdAt: run.createdAt, updatedAt: run.createdAt, lastSeq: -1,
    leaseOwner: run.owner, leaseUntil: run.createdAt + run.leaseMs, signalled: false,
  };
  if (run.tenant !== undefined) row.tenant = run.tenant;
  if (run.forkOf !== undefined) row.forkOf = { runId: run.forkOf.runId, nodeId: run.forkOf.nodeId };
  return row;
}

function checkNewRun(run: NewRun): void {
  const bad = (field: string): never => { throw new StoreError('STORE_INVALID', `createRun: ${field} is invalid`); };
  if (typeof run !== 'object' || run === null) bad('the run');
  if (typeof run.runId !== 'string' || run.runId === '') bad('runId');
  if (typeof run.topology !== 'string') bad('topology');
  if (typeof run.version !== 'string') bad('version');
  if (!Number.isFinite(run.createdAt)) bad('createdAt');
  if (typeof run.owner !== 'string') bad('owner');
  if (!Number.isFinite(run.leaseMs) || run.leaseMs < 0) bad('leaseMs');
  if (run.events !== undefined) {
    checkEvents(run.events);
    if (run.events.some((e) => e.runId !== run.runId)) bad('events (each must be of the run created)');
  }
}

/**
 * Checks the shape of appended events (runId, integer seq >= 0, finite ts, type);
 * throws `STORE_INVALID` naming the first bad one.
 *
 * @example
 * ```ts
 * checkEvents(events);
 * ```
 */
export function checkEvents(events: readonly StoredEvent[]): void {
  if (!Array.isArray(events)) throw new StoreError('STORE_INVALID', 'append: expected an array of events');
  events.forEach((e, i) => {
    const ok = typeof e === 'object' && e !== null && typeof e.runId === 'string' && Number.isInteger(e.seq) && e.seq >= 0
      && Number.isFinite(e.ts) && typeof e.type === 'string' && (e.nodeId === undefined || typeof e.nodeId === 'string');
    if (!ok) throw new StoreError('STORE_INVALID', `append: event ${i} is invalid (needs runId, an integer seq >= 0, a numeric ts and a type)`);
  });
}

/**
 * The error of an event whose `seq` does not follow its run's last one: taken by
 * another writer, or leaving a gap.
 *
 * @example
 * ```ts
 * if (e.seq !== row.lastSeq + 1) throw seqConflict(row, e);
 * ```
 */
export function seqConflict(row: { readonly runId: string; readonly lastSeq: number }, e: StoredEvent): StoreError {
  const why = e.seq <= row.lastSeq ? 'is already taken (two writers on one run?)' : `would leave a gap (expected ${row.lastSeq + 1})`;
  return new StoreError('SEQ_CONFLICT', `run ${row.runId}: event seq ${e.seq} ${why}`);
}

/**
 * The error of an event or query naming an unknown run.
 *
 * @example
 * ```ts
 * if (!row) throw runNotFound(e.runId);
 * ```
 */
export function runNotFound(runId: string): StoreError {
  return new StoreError('RUN_NOT_FOUND', `run ${runId} is not in the store`);
}

/**
 * The error of a `createRun` whose id is taken.
 *
 * @example
 * ```ts
 * if (rows.has(run.runId)) throw runExists(run.runId);
 * ```
 */
export function runExists(runId: string): StoreError {
  return new StoreError('RUN_EXISTS', `run ${runId} already exists`);
}

/**
 * Folds one event into its run's row (in place): seq check, `lastSeq`/`updatedAt`,
 * and the status the event implies.
 *
 * @example
 * ```ts
 * for (const e of events) applyEvent(row, e);
 * ```
 */
export function applyEvent(row: RunRow, e: StoredEvent): void {
  if (e.seq !== row.lastSeq + 1) throw seqConflict(row, e);
  row.lastSeq = e.seq;
  row.updatedAt = e.ts;
  switch (e.type) {
    case 'run.started':
    case 'run.recovered':
      row.status = 'running';
      delete row.wait;
      row.signalled = false;
      break;
    case 'run.waiting': {
      row.status = 'waiting';
      row.wait = waitOf(e);
      row.signalled = false;
      break;
    }
    case 'run.signalled':
      row.signalled = true;
      break;
    case 'run.completed':
    case 'run.failed':
    case 'run.cancelled':
      row.status = e.type === 'run.completed' ? 'completed' : e.type === 'run.failed' ? 'failed' : 'cancelled';
      if (e.type === 'run.completed') {
        if (e['output'] !== undefined) row.output = e['output'];
      } else if (e['error'] !== undefined) {
        row.error = e['error'] as SerializedError;
      }
      delete row.wait;
      delete row.leaseOwner;
      delete row.leaseUntil;
      row.signalled = false;
      break;
    default:
      break;
  }
}

/**
 * The wait a `run.waiting` event parks its run on.
 *
 * @example
 * ```ts
 * row.wait = waitOf(e);
 * ```
 */
export function waitOf(e: StoredEvent): { nodeId: string; name: string; timeoutAt?: number } {
  const wait: { nodeId: string; name: string; timeoutAt?: number } = {
    nodeId: typeof e.nodeId === 'string' ? e.nodeId : '',
    name: typeof e['name'] === 'string' ? e['name'] : '',
  };
  if (typeof e['timeoutAt'] === 'number' && Number.isFinite(e['timeoutAt'])) wait.timeoutAt = e['timeoutAt'];
  return wait;
}

/**
 * Whether an event changes its run's row beyond `lastSeq` and `updatedAt` (status,
 * wait, output, error, lease, signalled): the run events of {@link applyEvent}. Node
 * events do not, so a store may advance the row's seq without reading it.
 *
 * @example
 * ```ts
 * const light = events.every((e) => !changesRow(e.type));
 * ```
 */
export function changesRow(type: string): boolean {
  switch (type) {
    case 'run.started':
    case 'run.recovered':
    case 'run.waiting':
    case 'run.signalled':
    case 'run.completed':
    case 'run.failed':
    case 'run.cancelled':
      return true;
    default:
      return false;
  }
}

/**
 * The public record of a row (without the store-internal fields).
 *
 * @example
 * ```ts
 * return rows.map(toRecord);
 * ```
 */
export function toRecord(row: RunRow): RunRecord {
  const { signalled: _signalled, ...record } = row;
  return record;
}

/**
 * Whether `claim` may take a run now (leaving aside its `topologies`/`runIds` filters).
 * A run is claimable when no live lease holds it (none, expired at `now`, or its owner
 * `isDead`), and it is `running`, or (with `wakeable`) `waiting` with its timeout
 * passed or a signal since it parked.
 *
 * @example
 * ```ts
 * const mine = rows.filter((r) => claimable(r, request));
 * ```
 */
export function claimable(row: RunRow, request: ClaimRequest): boolean {
  const free = row.leaseOwner === undefined || row.leaseUntil === undefined || row.leaseUntil <= request.now
    || (request.isDead !== undefined && request.isDead(row.leaseOwner));
  if (!free) return false;
  if (row.status === 'running') return true;
  if (row.status !== 'waiting' || request.wakeable !== true) return false;
  return row.signalled || (row.wait?.timeoutAt !== undefined && row.wait.timeoutAt <= request.now);
}

/**
 * Checks a claim request; throws `STORE_INVALID` naming the bad field.
 *
 * @example
 * ```ts
 * checkClaim(request);
 * ```
 */
export function checkClaim(request: ClaimRequest): void {
  const bad = (field: string): never => { throw new StoreError('STORE_INVALID', `claim: ${field} is invalid`); };
  if (typeof request !== 'object' || request === null) bad('the request');
  if (typeof request.owner !== 'string' || request.owner === '') bad('owner');
  if (!Number.isFinite(request.leaseMs) || request.leaseMs < 0) bad('leaseMs');
  if (!Number.isInteger(request.limit) || request.limit < 0) bad('limit');
  if (!Number.isFinite(request.now)) bad('now');
}

/**
 * A JSON round trip: what a SQL store gives back for a value (Dates become strings,
 * `undefined` fields vanish). The memory store stores copies made this way.
 *
 * @example
 * ```ts
 * const stored = jsonCopy(event);
 * ```
 */
export function jsonCopy<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Checks a cancel request (and a list of run ids to read requests of); throws `STORE_INVALID`
 * naming the bad field.
 *
 * @example
 * ```ts
 * checkCancel({ runId: 'r1', at: Date.now() });
 * ```
 */
export function checkCancel(request: CancelRequest): void {
  const bad = (field: string): never => { throw new StoreError('STORE_INVALID', `requestCancel: ${field} is invalid`); };
  if (typeof request !== 'object' || request === null) bad('the request');
  if (typeof request.runId !== 'string' || request.runId === '') bad('runId');
  if (!Number.isFinite(request.at)) bad('at');
  if (request.reason !== undefined && typeof request.reason !== 'string') bad('reason');
}

/**
 * Checks the run ids of a `cancelRequests` call; throws `STORE_INVALID`.
 *
 * @example
 * ```ts
 * checkRunIds(['r1', 'r2']);
 * ```
 */
export function checkRunIds(runIds: readonly string[]): void {
  if (!Array.isArray(runIds) || runIds.some((id) => typeof id !== 'string')) throw new StoreError('STORE_INVALID', 'cancelRequests: runIds must be a list of run ids');
}
