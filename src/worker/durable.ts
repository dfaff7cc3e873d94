/**
 * Durable requests: how a worker whose engine has a run store answers a run
 * request, so that a request redelivered after a worker died resumes from the
 * shared store on whichever worker gets it instead of starting over.
 *
 * The run id of a request is its request id (stable across deliveries), and the
 * store says what became of it:
 * - no run yet: the request is run under that id (recorded as any durable run);
 * - the run ended (completed, failed, cancelled): its stored result is published
 *   again (output or error from the run row, node outputs and usage from its log),
 *   nothing runs, no model is called;
 * - the run is `running` with no live lease (its worker died: lease expired, or a
 *   dead process of this host): it is claimed and resumed from its log with
 *   `engine.recover({ runIds })` (completed nodes replayed, not executed again; an
 *   llm call cut mid-stream restarts with a `node.restart` token marker, reason
 *   `recovered`), and its result is published as usual;
 * - the run is parked on a wait: answered as its first delivery was (failed, `RUN_PARKED`), nothing runs;
 * - the run is held by a live process (its lease is renewed):
 *   the request waits, polling the store, until the run ends (its result is then
 *   published again) or its lease lapses (then it is claimed), at most `heldWaitMs`;
 *   meanwhile the worker's health component `durable` is `degraded` and says why.
 *   Past the bound the request is answered with a failed result `RUN_HELD`
 *   (retriable: submitting the same request id again later gets the run's result).
 * @module
 */
import { isStoreError, OrchestratorError, serializeError } from '../errors.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../primitives/sleep.ts';
import type { Engine } from '../runtime/engine.ts';
import { foldRun } from '../runtime/fold.ts';
import type { RunResult } from '../runtime/result.ts';
import { ENDED_STATUSES, type RunRecord, type RunStore } from '../runtime/store.ts';
import type { HealthBoard } from '../transports/health.ts';
import type { RunRequestMessage, RunResultMessage } from '../transports/messages.ts';

/** First delay between two looks at a run held by another process, ms (doubled up to {@link MAX_POLL_MS}). */
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

/**
 * What durable requests need from their worker.
 *
 * @example
 * ```ts
 * const host: DurableHost = { engine, store, log, health: board, workerId: id, heldWaitMs: 300_000, run, tag, announce, endMarker, untag, message, failed };
 * ```
 */
export interface DurableHost {
  readonly engine: Engine;
  readonly store: RunStore;
  readonly log: Logger;
  readonly health: HealthBoard;
  /** The worker's id, for the results it publishes. */
  readonly workerId: string;
  /** Longest a request waits for a run another live process holds, ms. */
  readonly heldWaitMs: number;
  /**
   * Runs a new attempt at the request under `runId` (announced, tokens tagged, end marker sent),
   * except that a run refused with `RUN_EXISTS` gets no end marker (another process runs it).
   */
  run(req: RunRequestMessage, t: AnyTopology, input: unknown, runId: string): Promise<RunResult>;
  /**
   * Tags the run's tokens and events with the request (before it emits any); returns the attempt
   * number: `attempt` when given, else the request's deliveries to this worker, counting this one.
   */
  tag(req: RunRequestMessage, runId: string, attempt?: number): number;
  /** Publishes the `request.attempt` event of an attempt. */
  announce(req: RunRequestMessage, runId: string, topology: string, attempt: number): Promise<void>;
  /** Sends the run's end marker after its last tokens. */
  endMarker(req: RunRequestMessage, runId: string, attempt: number, how: 'ended' | 'abandoned'): Promise<void>;
  /** Stops tagging the run's tokens. */
  untag(runId: string): void;
  /** A result message of a run that ended here. */
  message(req: RunRequestMessage, r: RunResult): RunResultMessage;
  /** A failed result message with `code` and `message` (no run). */
  failed(req: RunRequestMessage, code: string, message: string, retriable: boolean): RunResultMessage;
}

/**
 * The durable side of a worker.
 *
 * @example
 * ```ts
 * const durable = createDurableRequests(host);
 * const result = await durable.attempt(request, topology, input);
 * ```
 */
export interface DurableRequests {
  /** Answers one request (see the module comment). Rejects only when the store cannot be read (the transport tries the request again). */
  attempt(req: RunRequestMessage, t: AnyTopology, input: unknown): Promise<RunResultMessage>;
  /** Requests waiting now for a run another process holds. */
  readonly waiting: number;
}

/**
 * The run id a request is recorded under: its request id.
 *
 * @example
 * ```ts
 * const runId = durableRunId(request); // request.requestId
 * ```
 */
export function durableRunId(req: RunRequestMessage): string {
  return req.requestId;
}


/**
 * Creates the durable side of a worker.
 *
 * @example
 * ```ts
 * const durable = createDurableRequests({ engine, store: engine.store!, log, health: board, workerId: id, heldWaitMs: 300_000, ... });
 * ```
 */
export function createDurableRequests(host: DurableHost): DurableRequests {
  const { engine, store, log } = host;
  /** Run id → why its request waits, for the health report. */
  const held = new Map<string, string>();
  const report = (): void => {
    if (held.size === 0) host.health.set('durable', 'up');
    else {
      const [runId, why] = held.entries().next().value!;
      host.health.set('durable', 'degraded', `${held.size} request(s) waiting for runs other processes hold (run '${runId}': ${why})`);
    }
  };
  report();

  /** The stored result of an ended run, published again: nothing runs. */
  const republish = async (req: RunRequestMessage, rec: RunRecord): Promise<RunResultMessage> => {
    const state = foldRun(await store.history(rec.runId));
    const u = state.usage;
    log.info({ requestId: req.requestId, runId: rec.runId, status: rec.status }, 'redelivered request: its run already ended; publishing its stored result');
    await host.endMarker(req, rec.runId, 1, 'ended'); // its token stream is complete: followers may take the result
    return {
      requestId: req.requestId, runId: rec.runId, topology: rec.topology, status: rec.status as RunResultMessage['status'],
      output: rec.output === undefined ? null : JSON.stringify(rec.output),
      outputs: JSON.stringify(state.outputs),
      error: rec.error === undefined ? null : JSON.stringify(rec.error),
      usage: {
        inputTokens: u?.inputTokens ?? 0, outputTokens: u?.outputTokens ?? 0, cachedTokens: u?.cachedTokens ?? 0,
        reasoningTokens: u?.reasoningTokens ?? 0, costUsd: u?.costUsd ?? 0, calls: u?.calls ?? 0,
      },
      worker: host.workerId, startedAt: rec.createdAt, endedAt: rec.updatedAt,
    };
  };

  /** Claims and resumes the run when no live process holds it; undefined when one does. */
  const resume = async (req: RunRequestMessage, runId: string, topology: string, counted: { attempt?: number }): Promise<RunResultMessage | undefined> => {
    // tagged before the claim: a restart marker is emitted as the run relaunches
    const attempt = host.tag(req, runId, counted.attempt);
    counted.attempt = attempt; // polling again is the same delivery
    let report;
    try {
      report = await engine.recover({ runIds: [runId] });
    } catch (e) {
      host.untag(runId);
      throw e;
    }
    const failure = report.failed.find((f) => f.runId === runId);
    if (failure !== undefined) {
      host.untag(runId);
      log.error({ requestId: req.requestId, runId, code: failure.error.code, err: failure.error }, 'redelivered request: its run cannot be resumed');
      return { ...host.failed(req, failure.error.code, failure.error.message, failure.error.retriable), runId, error: JSON.stringify(serializeError(failure.error)) };
    }
    if (!report.resumed.includes(runId)) {
      host.untag(runId);
      return undefined;
    }
    log.info({ requestId: req.requestId, runId }, 'redelivered request: resuming its run from the store');
    try {
      await host.announce(req, runId, topology, attempt);
      const r = await new Promise<RunResult>((resolve, reject) => {
        report.results.subscribe({ next: resolve, error: reject, complete: () => reject(new OrchestratorError('RUN_LOST', `resumed run '${runId}' ended without a result`)) });
      });
      await host.endMarker(req, runId, attempt, 'ended');
      return host.message(req, r);
    } catch (e) {
      await host.endMarker(req, runId, attempt, 'abandoned').catch((err: unknown) => log.error({ err, runId }, 'could not mark an abandoned run'));
      throw e;
    } finally {
      host.untag(runId);
    }
  };

  const attempt = async (req: RunRequestMessage, t: AnyTopology, input: unknown): Promise<RunResultMessage> => {
    const runId = durableRunId(req);
    engine.compile(t); // recover() resumes only topologies the engine knows
    let since: number | undefined;
    let delay = FIRST_POLL_MS;
    const counted: { attempt?: number } = {};
    try {
      for (;;) {
        const rec = await store.getRun(runId);
        if (rec === undefined) {
          const r = await host.run(req, t, input, runId);
          // another worker created the run first (the request was delivered twice at once): look again
          if (r.status === 'failed' && isStoreError(r.error) && r.error.code === 'RUN_EXISTS') continue;
          return host.message(req, r);
        }
        if (rec.topology !== t.name) {
          return host.failed(req, 'REQUEST_CONFLICT', `request ${req.requestId} names topology '${t.name}', but its run '${runId}' in ${store.location} is of topology '${rec.topology}'`, false);
        }
        if (ENDED_STATUSES.includes(rec.status)) return await republish(req, rec);
        if (rec.status === 'running') {
          const resumed = await resume(req, runId, rec.topology, counted);
          if (resumed !== undefined) return resumed;
        }
        // parked on a wait: answered as the first delivery was (run-result v1 has no 'waiting'); a signal resumes it
        if (rec.status === 'waiting') {
          const wait = rec.wait === undefined ? 'a wait' : `wait '${rec.wait.name}' (node '${rec.wait.nodeId}')`;
          return { ...host.failed(req, 'RUN_PARKED', `run '${runId}' is parked on ${wait}; engine.signal resumes it`, false), runId };
        }
        // held by a live process: wait for it to end or to be let go
        const now = Date.now();
        if (since === undefined) {
          since = now;
          const why = `held by ${rec.leaseOwner ?? '?'} until ${new Date(rec.leaseUntil ?? 0).toISOString()}`;
          held.set(runId, why);
          report();
          log.warn({ requestId: req.requestId, runId, status: rec.status, owner: rec.leaseOwner }, `redelivered request: its run is ${why}; waiting for it`);
        }
        if (now - since >= host.heldWaitMs) {
          log.error({ requestId: req.requestId, runId, waitedMs: now - since }, 'redelivered request: its run is still held by another process; answering RUN_HELD');
          return host.failed(req, 'RUN_HELD', `run '${runId}' of request ${req.requestId} is still ${held.get(runId) ?? 'held'} after ${host.heldWaitMs} ms (heldWaitMs); submit the request again later for its result`, true);
        }
        await sleep(Math.min(delay, Math.max(1, since + host.heldWaitMs - now)));
        delay = Math.min(MAX_POLL_MS, delay * 2);
      }
    } finally {
      if (since !== undefined) {
        held.delete(runId);
        report();
      }
    }
  };

  return {
    attempt,
    get waiting() { return held.size; },
  };
}
