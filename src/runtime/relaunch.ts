/**
 * Runs launched again from the store: `engine.recover()` (claims unfinished runs and resumes
 * each from its log: completed nodes' outputs replayed, cut nodes run again) and
 * `engine.fork()` (runs a stored run again from one node, upstream outputs from its log).
 * The engine lends its launch and its compiled topologies ({@link RelaunchHost}); this module
 * reads the store and decides what each run resumes with.
 * @module
 */
import { ReplaySubject } from 'rxjs';
import { StoreError, isStoreError, serializeError } from '../errors.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { Compiled } from './compiled.ts';
import type { Core } from './core.ts';
import { isDeadOwner, type Durable } from './durable.ts';
import type { RestartEvent } from './events.ts';
import { foldRun } from './fold.ts';
import { forkResume, type ForkOptions } from './fork.ts';
import type { RunDecision } from './loop.ts';
import type * as z from 'zod';
import type { ParsedRunOptions, RecoverOptionsSchema } from './options.ts';
import { wakeOf } from './park.ts';
import { foreignNodes, foreignNodesMessage, resumeOf, type RecoveryReport } from './recover.ts';
import { cancelledBy } from './cancelled.ts';
import { topologyVersion } from './version.ts';
import { resultOf, type RunResult } from './result.ts';
import type { Run, Wake } from './run.ts';
import type { RunRecord } from './store.ts';
import type { TraceContext } from './trace-context.ts';

/** Stored runs `recover()` reads and relaunches at once. */
const RELAUNCH_READS = 32;

/**
 * How a stored run goes on: its log continues after `seqBase - 1`, with the decision, the
 * usage and the trace it had (its row exists).
 *
 * @example
 * ```ts
 * const recovered: Recovered = { seqBase: state.lastSeq + 1, decision: state.decision, spent: state.spent };
 * ```
 */
export interface Recovered {
  readonly seqBase: number;
  readonly wake?: Wake | undefined;
  readonly decision?: RunDecision | undefined;
  readonly spent?: Readonly<Record<string, UsageTotals>> | undefined;
  readonly traceContext?: TraceContext | undefined;
  /** The deadline it was started with: when it must end by (epoch ms) and its budget (ms). */
  readonly deadline?: { readonly at: number; readonly ms: number } | undefined;
}

/**
 * What relaunching needs of the engine.
 *
 * @example
 * ```ts
 * const host: RelaunchHost = { durable, core, versions: () => byNameThenVersion, launch: (c, input, opts, onEnd, rec, fork) => engine.launch(c, input, opts, onEnd, rec, fork) };
 * ```
 */
export interface RelaunchHost {
  readonly durable: Durable;
  readonly core: Core;
  /** The runnable compiled topologies, by name then version. */
  versions(): Map<string, Map<string, Compiled>>;
  /** Starts a run of `c` (a recovered one with `recovered`, a fork with `forkOf`). */
  launch(c: Compiled, input: unknown, opts: ParsedRunOptions, onEnd: (run: Run) => void, recovered?: Recovered, forkOf?: { runId: string; nodeId: string }): Run;
}

/**
 * Claims the unfinished runs of the registered topologies and resumes them (see `Engine.recover`).
 *
 * @example
 * ```ts
 * const report = await recoverRuns(host, parseOptions(RecoverOptionsSchema, options, 'recover options'));
 * ```
 */
export async function recoverRuns(host: RelaunchHost, opts: z.output<typeof RecoverOptionsSchema>): Promise<RecoveryReport> {
  const { durable } = host;
  const byName = host.versions();
  const results = new ReplaySubject<RunResult>();
  const resumed: string[] = [];
  const failed: { runId: string; topology: string; error: StoreError }[] = [];
  if (byName.size === 0 || host.core.closing) {
    results.complete();
    return { resumed, failed, results };
  }
  const claimed = await durable.store.claim({
    owner: durable.owner, leaseMs: durable.leaseMs, limit: opts.limit ?? 1000, now: durable.now(), topologies: [...byName.keys()], isDead: isDeadOwner,
    wakeable: opts.wake ?? false,
    ...(opts.runIds === undefined ? {} : { runIds: opts.runIds }),
  });
  const asked = await cancelsOf(host, claimed);
  let open = claimed.length;
  const ended = (): void => {
    if (--open === 0) results.complete();
  };
  // Histories are read RELAUNCH_READS at a time (a round trip each on a server); the report keeps claim order.
  const errors = new Array<StoreError | undefined>(claimed.length);
  let next = 0;
  const relaunchSome = async (): Promise<void> => {
    for (let k = next++; k < claimed.length; k = next++) {
      const rec = claimed[k]!;
      const reason = asked.get(rec.runId);
      const signal = reason === undefined ? opts.signal : AbortSignal.abort(cancelledBy(reason.reason));
      errors[k] = await relaunchRun(host, rec, byName.get(rec.topology), signal, (r) => {
        results.next(resultOf(r));
        ended();
      });
      if (errors[k] !== undefined) ended();
    }
  };
  await Promise.all(Array.from({ length: Math.min(RELAUNCH_READS, claimed.length) }, relaunchSome));
  claimed.forEach((rec, k) => {
    const error = errors[k];
    if (error === undefined) resumed.push(rec.runId);
    else failed.push({ runId: rec.runId, topology: rec.topology, error });
  });
  if (claimed.length === 0) results.complete();
  return { resumed, failed, results };
}

/**
 * The cancel requests of the claimed runs that were running (their holder died before it could
 * act on one): they are relaunched only to end cancelled. A store that cannot say is logged and
 * read again at the first lease renewal.
 */
async function cancelsOf(host: RelaunchHost, claimed: readonly RunRecord[]): Promise<Map<string, { reason?: string }>> {
  const store = host.durable.store;
  const running = claimed.filter((r) => r.status === 'running').map((r) => r.runId);
  const out = new Map<string, { reason?: string }>();
  if (store.cancelRequests === undefined || running.length === 0) return out;
  const asked = await store.cancelRequests(running).catch((e: unknown) => {
    host.core.log.warn({ err: e, runs: running.length }, 'reading cancel requests of recovered runs failed; they are read again at the first lease renewal');
    return [];
  });
  for (const a of asked) out.set(a.runId, a.reason === undefined ? {} : { reason: a.reason });
  return out;
}

/**
 * Runs a stored run again from one node (see `Engine.fork`).
 *
 * @example
 * ```ts
 * const result = await forkRun(host, 'r1', { from: 'answer', overrides: { nodes: { answer: { model: 'sim:other' } } } });
 * ```
 */
export async function forkRun(host: RelaunchHost, runId: string, options: ForkOptions): Promise<RunResult> {
  const store = host.durable.store;
  const rec = await store.getRun(runId);
  if (rec === undefined) throw new StoreError('RUN_NOT_FOUND', `run '${runId}' is not in the store (${store.location})`);
  const c = host.versions().get(rec.topology)?.get(rec.version);
  if (c === undefined) {
    throw new StoreError('TOPOLOGY_CHANGED', `run '${runId}' of topology '${rec.topology}' was recorded under version ${rec.version}, which this engine does not have; register that definition to fork it`);
  }
  const state = foldRun(await store.history(runId));
  const foreign = foreignNodes(c.plan, state);
  if (foreign.length > 0) throw new StoreError('TOPOLOGY_CHANGED', foreignNodesMessage(runId, rec.topology, rec.version, topologyVersion(c.plan.topology), foreign));
  const resume = forkResume(c.plan, state, options);
  const o = options.overrides;
  const input = o !== undefined && Object.hasOwn(o, 'input') ? o.input : rec.input;
  const opts: ParsedRunOptions = {
    resume: { outputs: resume.outputs, skipped: [...resume.skipped] }, tenant: rec.tenant, user: state.user, project: state.project, runId: options.runId, overrides: o?.nodes,
  };
  return new Promise((resolve) => {
    host.launch(c, input, opts, (r) => resolve(resultOf(r)), undefined, { runId, nodeId: options.from });
  });
}

/**
 * Relaunches one claimed run (under the version it was recorded with); resolves with the
 * error that stopped it (recorded as its `run.failed` when possible).
 *
 * @example
 * ```ts
 * const error = await relaunchRun(host, rec, host.versions().get(rec.topology), undefined, (run) => done(resultOf(run)));
 * ```
 */
export async function relaunchRun(
  host: RelaunchHost, rec: RunRecord, versions: ReadonlyMap<string, Compiled> | undefined, signal: AbortSignal | undefined, onEnd: (run: Run) => void,
): Promise<StoreError | undefined> {
  const { durable, core } = host;
  const store = durable.store;
  const c = versions?.get(rec.version);
  if (c === undefined) {
    const known = [...new Set([...(versions?.values() ?? [])].map((k) => topologyVersion(k.plan.topology)))].join(', ') || 'none';
    return failChanged(host, rec, rec.lastSeq + 1, `run '${rec.runId}' of topology '${rec.topology}' was recorded under version ${rec.version}, but this engine has version ${known}; register the recorded definition to resume it, or one that lists ${rec.version} in its resumes`);
  }
  const history = await store.history(rec.runId).then((h) => h, (e: unknown) => e);
  if (!Array.isArray(history)) {
    await store.release(durable.owner, [rec.runId]).catch((e: unknown) => core.log.warn({ runId: rec.runId, err: e }, 'releasing a run failed; its lease expires on its own'));
    return isStoreError(history) ? history : new StoreError('STORE_FAILED', `reading the history of run '${rec.runId}' failed`, { cause: history });
  }
  const state = foldRun(history);
  const foreign = foreignNodes(c.plan, state);
  if (foreign.length > 0) {
    return failChanged(host, rec, state.lastSeq + 1, foreignNodesMessage(rec.runId, rec.topology, rec.version, topologyVersion(c.plan.topology), foreign));
  }
  const { resume, cut } = resumeOf(c.plan, state);
  const wake = wakeOf(history, state, durable.now());
  const bus = core.bus;
  if (bus.observed) {
    for (const i of cut) {
      const e: RestartEvent = { type: 'node.restart', runId: rec.runId, topology: rec.topology, nodeId: c.plan.ids[i]!, reason: 'recovered', ts: Date.now() };
      bus.next(e);
    }
  }
  // a run cancelled while it was parked (engine.cancel) is relaunched only to end cancelled
  const stop = state.cancel === undefined || signal?.aborted === true ? signal : AbortSignal.abort(cancelledBy(state.cancel.reason));
  const runOpts: ParsedRunOptions = {
    runId: rec.runId, resume: { outputs: resume.outputs, skipped: [...resume.skipped] }, tenant: rec.tenant, user: state.user, project: state.project, priority: state.priority, signal: stop,
  };
  const deadline = state.deadline === undefined || state.deadlineMs === undefined ? undefined : { at: state.deadline, ms: state.deadlineMs };
  host.launch(c, rec.input, runOpts, onEnd, { seqBase: state.lastSeq + 1, wake, decision: state.decision, spent: state.spent, traceContext: state.traceContext, deadline });
  return undefined;
}

/** Records a run this engine cannot resume as failed with `TOPOLOGY_CHANGED`; returns that error. */
async function failChanged(host: RelaunchHost, rec: RunRecord, seq: number, message: string): Promise<StoreError> {
  const error = new StoreError('TOPOLOGY_CHANGED', message);
  const wrote = await host.durable.store.append([{ runId: rec.runId, seq, ts: host.durable.now(), type: 'run.failed', topology: rec.topology, error: serializeError(error) }]).then(
    () => undefined, (e: unknown) => e,
  );
  if (wrote !== undefined) host.core.log.error({ runId: rec.runId, err: wrote }, 'recording a TOPOLOGY_CHANGED failure failed');
  return error;
}
