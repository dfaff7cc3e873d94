/**
 * Signals over a transport: how a worker whose engine has a run store handles a
 * message on the `signals` topic (kind `signal`, keyed by run id), so a run parked
 * on a `wait` node resumes from a message as it does from `engine.signal`.
 *
 * Each worker deployment consumes signals in its own group (`<group>.signals`),
 * at-least-once. For one signal the store says what to do:
 * - the run is unknown: refused (dead-lettered, StoreError `RUN_NOT_FOUND`);
 * - the run is of a topology this worker does not serve: acknowledged, skipped
 *   (another deployment's group handles it);
 * - the run ended, or already got a signal of that name and another live process
 *   runs it: acknowledged and counted as a **duplicate** (a redelivered or repeated
 *   signal is harmless);
 * - the run is parked and not signalled yet: `engine.signal(runId, name, payload)`
 *   validates the payload with the wait node's schema, records `run.signalled` and
 *   resumes the run here. A refused signal (a payload that does not fit, naming the
 *   field; another wait's name; a version this worker does not have) is published as a
 *   `signal.rejected` lifecycle event and dead-lettered with the reason;
 * - the run got this signal but nobody holds it (the worker that took the signal died):
 *   it is claimed and resumed here (`engine.recover({ runIds, wake: true })`);
 * - the run is still running and has not got this signal (it has not reached its wait
 *   yet): the signal waits for it, polling the store, at most `heldWaitMs`, then fails
 *   retriably (the transport tries it again, then dead-letters it).
 *
 * A run resumed here is announced (`request.attempt`), its tokens and events carry its
 * request id, and when it ends (or parks again) its result is published on the result
 * topic under its request id (the signal's `requestId`, default the run id: a run a
 * worker started has its request id as run id), after the interim `RUN_PARKED` answer.
 * The signal's offset is committed only then.
 * @module
 */
import { isStoreError, isValidationError, isWaitError, OrchestratorError, serializeError, StoreError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../primitives/sleep.ts';
import type { Engine } from '../runtime/engine.ts';
import type { RunResult } from '../runtime/result.ts';
import { ENDED_STATUSES, type RunRecord, type RunStore } from '../runtime/store.ts';
import { SIGNAL_REJECTED, type RunRequestMessage, type RunResultMessage, type SignalMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

/**
 * What the signals of a worker need from it.
 *
 * @example
 * ```ts
 * const host: SignalsHost = { engine, store, transport, log, served, heldWaitMs, tag, untag, announce, endMarker, message, answer };
 * ```
 */
export interface SignalsHost {
  readonly engine: Engine;
  readonly store: RunStore;
  readonly transport: Transport;
  readonly log: Logger;
  /** Topology names this worker serves. */
  readonly served: ReadonlySet<string>;
  /** Longest a signal waits for a running run to reach its wait, ms. */
  readonly heldWaitMs: number;
  /** Tags the run's tokens and events with the request; returns the attempt number. */
  tag(req: RunRequestMessage, runId: string): number;
  untag(runId: string): void;
  announce(req: RunRequestMessage, runId: string, topology: string, attempt: number): Promise<void>;
  endMarker(req: RunRequestMessage, runId: string, attempt: number, how: 'ended' | 'abandoned'): Promise<void>;
  message(req: RunRequestMessage, r: RunResult): RunResultMessage;
  /** Publishes a request's result (after the run's tokens and events). */
  answer(req: RunRequestMessage, result: RunResultMessage): Promise<void>;
}

/**
 * Counts of a worker's signal messages.
 *
 * @example
 * ```ts
 * const { resumed, duplicates, rejected } = worker.signals;
 * ```
 */
export interface SignalStats {
  /** Signals that resumed a run here, counted once the run ended (its result is then published). */
  readonly resumed: number;
  /** Signals for a run already resumed or ended: acknowledged, nothing done. */
  readonly duplicates: number;
  /** Signals refused: dead-lettered (and a `signal.rejected` event published when the run is known). */
  readonly rejected: number;
  /** Signals for runs of topologies this worker does not serve. */
  readonly skipped: number;
  /** Signals accepted whose run another process claimed first (it resumes there). */
  readonly elsewhere: number;
}

/**
 * The signal side of a worker.
 *
 * @example
 * ```ts
 * const signals = createSignalHandler(host);
 * await transport.consume('signal', { group: `${group}.signals` }, (m) => signals.handle(m.value));
 * ```
 */
export interface SignalHandler {
  /** Handles one signal message (see the module comment); rejects to have it tried again or dead-lettered. */
  handle(signal: SignalMessage): Promise<void>;
  readonly stats: SignalStats;
}

/** The request a signalled run answers: the signal's `requestId`, else the run id. */
function requestOf(s: SignalMessage, rec: RunRecord): RunRequestMessage {
  return {
    requestId: s.requestId ?? rec.runId, topology: rec.topology, input: '', priority: 'normal',
    tenant: s.tenant ?? rec.tenant ?? null, deadlineMs: null, createdAt: rec.createdAt,
  };
}

/** A refusal the same signal can never get past: dead-lettered at once. */
function refusal(e: unknown): boolean {
  if (isValidationError(e)) return true;
  if (isWaitError(e)) return e.code === 'WAIT_NAME_MISMATCH';
  return isStoreError(e) && (e.code === 'RUN_NOT_FOUND' || e.code === 'TOPOLOGY_CHANGED');
}

/**
 * Creates the signal side of a worker.
 *
 * @example
 * ```ts
 * const signals = createSignalHandler({ engine, store: engine.store!, transport, log, served, heldWaitMs: 300_000, ... });
 * ```
 */
export function createSignalHandler(host: SignalsHost): SignalHandler {
  const { engine, store, log } = host;
  const stats = { resumed: 0, duplicates: 0, rejected: 0, skipped: 0, elsewhere: 0 };

  const duplicate = (s: SignalMessage, rec: RunRecord, why: string): void => {
    stats.duplicates++;
    log.info({ signalId: s.signalId, runId: s.runId, name: s.name, status: rec.status }, `duplicate signal: ${why}; acknowledged`);
  };

  /** Publishes `signal.rejected` (for a known run) and rejects non-retriably: the transport dead-letters the signal with the reason. */
  const reject = async (s: SignalMessage, rec: RunRecord | undefined, e: unknown): Promise<never> => {
    stats.rejected++;
    const err = serializeError(e);
    log.warn({ signalId: s.signalId, runId: s.runId, name: s.name, code: err.code, err: e }, 'signal refused; dead-lettering it');
    if (rec !== undefined) {
      const data = { signalId: s.signalId, name: s.name, code: err.code, message: err.message, ...(err.issues === undefined ? {} : { issues: err.issues }) };
      await host.transport.send('event', [{
        key: s.runId,
        value: {
          runId: s.runId, topology: rec.topology, type: SIGNAL_REJECTED, seq: rec.lastSeq, ts: Date.now(), nodeId: rec.wait?.nodeId ?? null, parentRunId: null,
          data: JSON.stringify(data), requestId: s.requestId ?? rec.runId, attempt: 1,
        },
      }]);
    }
    throw isValidationError(e) || isWaitError(e) || isStoreError(e)
      ? e
      : new OrchestratorError('SIGNAL_REFUSED', `signal '${s.name}' for run '${s.runId}': ${err.message}`, { retriable: false, cause: e });
  };

  /** Waits for the run's result and publishes it as the answer to its request. */
  const finish = async (req: RunRequestMessage, rec: RunRecord, attempt: number, result: Promise<RunResult>): Promise<void> => {
    try {
      await host.announce(req, rec.runId, rec.topology, attempt);
      const r = await result;
      await host.endMarker(req, rec.runId, attempt, 'ended');
      stats.resumed++;
      await host.answer(req, host.message(req, r));
      log.info({ runId: rec.runId, requestId: req.requestId, status: r.status }, 'signalled run ended; its result is published');
    } catch (e) {
      await host.endMarker(req, rec.runId, attempt, 'abandoned').catch((err: unknown) => log.error({ err, runId: rec.runId }, 'could not mark an abandoned run'));
      throw e;
    } finally {
      host.untag(rec.runId);
    }
  };

  /** The run parked and not signalled yet: `engine.signal` validates, records and resumes it here. */
  const deliver = async (s: SignalMessage, rec: RunRecord, payload: unknown): Promise<void> => {
    const req = requestOf(s, rec);
    const attempt = host.tag(req, rec.runId); // before it resumes: its first tokens carry the request
    let receipt;
    try {
      receipt = await engine.signal(rec.runId, s.name, payload);
    } catch (e) {
      host.untag(rec.runId);
      // signalled meanwhile by a concurrent delivery of this signal (or another one): nothing left to do
      if (isWaitError(e) && e.code === 'RUN_NOT_WAITING') return duplicate(s, rec, 'the run stopped waiting meanwhile');
      if (refusal(e)) return reject(s, rec, e);
      throw e; // e.g. the store is unreachable: tried again
    }
    if (receipt.result === undefined) {
      host.untag(rec.runId);
      stats.elsewhere++;
      log.info({ signalId: s.signalId, runId: rec.runId }, 'signal recorded; another process claimed the run first and resumes it');
      return;
    }
    log.info({ signalId: s.signalId, runId: rec.runId, name: s.name }, 'signal accepted; resuming its run');
    await finish(req, rec, attempt, receipt.result);
  };

  /** The run already got this signal: resumed here when nobody holds it (its signaller died), else a duplicate. */
  const wake = async (s: SignalMessage, rec: RunRecord): Promise<void> => {
    const req = requestOf(s, rec);
    const attempt = host.tag(req, rec.runId);
    let report;
    try {
      report = await engine.recover({ runIds: [rec.runId], wake: true });
    } catch (e) {
      host.untag(rec.runId);
      throw e;
    }
    const failure = report.failed.find((f) => f.runId === rec.runId);
    if (failure !== undefined) {
      host.untag(rec.runId);
      return reject(s, rec, failure.error);
    }
    if (!report.resumed.includes(rec.runId)) {
      host.untag(rec.runId);
      return duplicate(s, rec, 'its run already got it and is held by a live process');
    }
    log.info({ signalId: s.signalId, runId: rec.runId }, 'signal already recorded but its run was left unclaimed; resuming it here');
    const result = new Promise<RunResult>((resolve, rejectResult) => {
      report.results.subscribe({ next: resolve, error: rejectResult, complete: () => rejectResult(new OrchestratorError('RUN_LOST', `resumed run '${rec.runId}' ended without a result`)) });
    });
    await finish(req, rec, attempt, result);
  };

  const handle = async (s: SignalMessage): Promise<void> => {
    let payload: unknown;
    try {
      payload = JSON.parse(s.payload);
    } catch (e) {
      // the transport's inbound check refuses non-JSON payloads; a custom codec may not
      return reject(s, undefined, new OrchestratorError('SIGNAL_INVALID', `signal '${s.name}' for run '${s.runId}': payload is not JSON: ${(e as Error).message}`, { retriable: false }));
    }
    let since: number | undefined;
    let delay = FIRST_POLL_MS;
    for (;;) {
      const rec = await store.getRun(s.runId);
      if (rec === undefined) return reject(s, undefined, new StoreError('RUN_NOT_FOUND', `signal '${s.name}': run '${s.runId}' is not in the store (${store.location})`));
      if (!host.served.has(rec.topology)) {
        stats.skipped++;
        return;
      }
      if (ENDED_STATUSES.includes(rec.status)) return duplicate(s, rec, `its run already ${rec.status}`);
      const events = await store.history(s.runId);
      let parkedAt = -1;
      for (let i = events.length - 1; i >= 0; i--) {
        if (events[i]!.type === 'run.waiting') {
          parkedAt = i;
          break;
        }
      }
      const signalledSinceParked = events.slice(parkedAt + 1).some((e) => e.type === 'run.signalled');
      const got = events.some((e) => e.type === 'run.signalled' && e['name'] === s.name);
      if (rec.status === 'waiting' && !signalledSinceParked) {
        // parked on a later wait: a signal of an earlier one, already taken, comes again
        if (got && rec.wait !== undefined && rec.wait.name !== s.name) return duplicate(s, rec, `its run already got it and now waits for '${rec.wait.name}'`);
        return deliver(s, rec, payload);
      }
      if (got || signalledSinceParked) return wake(s, rec);
      // running, and this signal has not reached it: it has not parked on its wait yet
      const now = Date.now();
      since ??= now;
      if (now - since >= host.heldWaitMs) {
        throw new OrchestratorError('RUN_NOT_WAITING', `signal '${s.name}': run '${s.runId}' is still ${rec.status} without waiting for it after ${host.heldWaitMs} ms (heldWaitMs)`, { retriable: true });
      }
      await sleep(Math.min(delay, Math.max(1, since + host.heldWaitMs - now)));
      delay = Math.min(MAX_POLL_MS, delay * 2);
    }
  };

  return { handle, stats };
}
