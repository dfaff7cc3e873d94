/**
 * Starting one run of a compiled topology: its options applied (priority, deadline, signal,
 * overrides, resume), its input checked, its row recorded (engine with a store), the loop's
 * decision and the guards' verdict asked, then admission; and what its end tells the guards,
 * the store and the loop before its caller hears of it. The engine lends what this needs
 * ({@link LaunchHost}); `run`, `stream`, `recover` and `fork` all start runs here.
 * @module
 */
import { CancelledError, isCancelledError, PolicyError, RejectedError, TimeoutError, ValidationError, serializeError, type OrchestratorError } from '../errors.ts';
import type { NodeOverride } from '../definition/types.ts';
import type { RunCheck, RunVerdict } from '../definition/guard.ts';
import type { UsageTotals } from '../providers/types.ts';
import { onAbort } from '../primitives/abort.ts';
import type { Level } from '../primitives/limiter.ts';
import type { Compiled } from './compiled.ts';
import type { Core } from './core.ts';
import type { Durable } from './durable.ts';
import type { PolicyDecisionEvent } from './events.ts';
import type { Guards } from './guard.ts';
import type { RunLoop } from './loop.ts';
import type { ParsedRunOptions } from './options.ts';
import type { Plan } from './plan.ts';
import type { Recovered } from './relaunch.ts';
import { Run } from './run.ts';
import { LEVELS, R_CANCELLED, R_FAILED, R_RUNNING, R_WAITING } from './states.ts';
import type { NewRun } from './store.ts';
import { summaryOf } from './summary.ts';
import { addTotals, zeroTotals } from './totals.ts';
import { exactTraceContext } from './trace-context.ts';
import { topologyVersion } from './version.ts';

/** Run status code to the name a guard's `ended` hears. */
const STATUS_NAMES: readonly ('completed' | 'failed' | 'cancelled' | 'waiting' | undefined)[] = [undefined, 'completed', 'failed', 'cancelled', 'waiting'];

/**
 * What starting a run needs of its engine: the shared run bookkeeping, and the store, loop and
 * guards it was created with (each undefined when it has none).
 *
 * @example
 * ```ts
 * const host: LaunchHost = { core, durable, loop: options.loop, guards };
 * launchRun(host, compiled, input, undefined, (run) => resolve(resultOf(run)));
 * ```
 */
export interface LaunchHost {
  readonly core: Core;
  readonly durable: Durable | undefined;
  readonly loop: RunLoop | undefined;
  readonly guards: Guards | undefined;
}

/**
 * Starts a run of `c`: it ends (and `onEnd` hears of it) at once when refused (engine shutting
 * down, invalid input, overrides or resume, an aborted signal, a loop that failed to decide, a
 * guard's deny), else it is admitted or queued for admission.
 * `recovered`: a stored run relaunched by `recover()` (its row exists; its log goes on after `seqBase - 1`).
 * `forkOf`: the stored run and node a fork was made from (recorded in the fork's row).
 *
 * @example
 * ```ts
 * const run = launchRun(host, compiled, { question: 'Why RxJS?' }, { priority: 'high' }, (r) => resolve(resultOf(r)));
 * ```
 */
export function launchRun(
  host: LaunchHost, c: Compiled, input: unknown, opts: ParsedRunOptions | undefined, onEnd: (run: Run) => void,
  recovered?: Recovered, forkOf?: { runId: string; nodeId: string },
): Run {
  const { core, durable, loop, guards } = host;
  const plan = c.plan;
  const level = LEVELS[opts?.priority ?? 'normal'];
  // a recovered run keeps the deadline it was started with (what is left of it)
  const deadlineMs = recovered?.deadline?.ms ?? opts?.deadlineMs;
  const deadline = recovered?.deadline?.at ?? (deadlineMs === undefined ? Infinity : Date.now() + deadlineMs);
  const deliver = durable === undefined && loop === undefined && guards === undefined ? onEnd : (r: Run): void => {
    const ended = r.guardEnded;
    if (ended !== undefined) {
      r.guardEnded = undefined;
      ended(STATUS_NAMES[r.status] ?? 'failed');
    }
    durable?.ended(r);
    if (loop !== undefined && r.status !== R_WAITING) tellLoop(core, loop, r);
    onEnd(r);
  };
  const run = new Run(opts?.runId ?? core.nextId(), plan, input, level, deadline, undefined, deliver);
  run.deadlineMs = deadlineMs;
  if (opts?.tenant !== undefined) run.tenant = opts.tenant;
  if (opts?.user !== undefined) run.user = opts.user;
  if (opts?.project !== undefined) run.project = opts.project;
  const traceContext = opts?.traceContext ?? recovered?.traceContext;
  if (traceContext !== undefined) run.traceContext = exactTraceContext(traceContext);
  if (recovered?.wake !== undefined) run.wake = recovered.wake;
  core.active.add(run);
  if (core.closing) {
    core.finish(run, R_FAILED, new RejectedError('SHUTTING_DOWN', 'the engine is shutting down and admits no new runs'));
    return run;
  }
  const parsedInput = plan.parseInput(input);
  if (!parsedInput.ok) {
    core.finish(run, R_FAILED, new ValidationError('INPUT_INVALID', `input of topology '${plan.name}' is invalid`, parsedInput.issues));
    return run;
  }
  run.input = parsedInput.value;
  if (recovered !== undefined) {
    run.decision = recovered.decision;
    if (recovered.spent !== undefined) seedUsage(run, recovered.spent);
  }
  else if (loop !== undefined) {
    const decided = decide(core, loop, plan, run);
    if (decided !== undefined) {
      core.finish(run, R_FAILED, decided);
      return run;
    }
  }
  if (durable !== undefined) {
    if (recovered !== undefined) durable.attach(run, undefined, recovered.seqBase);
    else {
      const row: { -readonly [K in keyof NewRun]: NewRun[K] } = {
        runId: run.id, topology: plan.name, version: topologyVersion(plan.topology), input, createdAt: durable.now(), owner: durable.owner, leaseMs: durable.leaseMs,
      };
      if (run.tenant !== undefined) row.tenant = run.tenant;
      if (forkOf !== undefined) row.forkOf = forkOf;
      durable.attach(run, row, 0);
    }
  }
  if (opts?.overrides !== undefined) {
    const unknown = Object.keys(opts.overrides).filter((id) => plan.indexOf(id) === undefined);
    if (unknown.length > 0) {
      core.finish(run, R_FAILED, new ValidationError('OVERRIDES_INVALID', `overrides of topology '${plan.name}' are invalid`, unknown.map((id) => ({ code: 'unknown_node', path: ['overrides', id], message: `no node '${id}'` }))));
      return run;
    }
    run.overrides = mergeOverrides(run.decision?.overrides, opts.overrides);
  } else if (run.decision?.overrides !== undefined) run.overrides = run.decision.overrides;
  if (opts?.resume !== undefined) {
    const resume = { outputs: opts.resume.outputs, skipped: opts.resume.skipped ?? [] };
    const issues = plan.checkResume(resume);
    if (issues.length > 0) {
      core.finish(run, R_FAILED, new ValidationError('RESUME_INVALID', `resume of topology '${plan.name}' is invalid`, issues));
      return run;
    }
    run.resume = resume;
  }
  const signal = opts?.signal;
  if (signal !== undefined || deadlineMs !== undefined) {
    if (signal?.aborted) {
      core.finish(run, R_CANCELLED, cancelledFor(signal.reason));
      return run;
    }
    const left = deadline - Date.now();
    if (deadlineMs !== undefined && left <= 0) {
      // a recovered (or woken) run whose deadline passed while it was down or parked
      core.finish(run, R_FAILED, new TimeoutError(`run of '${plan.name}'`, deadlineMs));
      return run;
    }
    const unlisten = onAbort(signal, (reason) => core.finish(run, R_CANCELLED, cancelledFor(reason)));
    const timer = deadlineMs === undefined ? undefined
      : setTimeout(() => core.finish(run, R_FAILED, new TimeoutError(`run of '${plan.name}'`, deadlineMs)), left);
    run.cleanup = timer === undefined ? unlisten : () => {
      unlisten();
      clearTimeout(timer);
    };
  }
  if (guards?.checksRuns === true && recovered === undefined) checkRun(core, guards, c, run, level);
  else admit(c, run, level);
  return run;
}

/** The error of a run its signal cancelled: the signal's reason when that is a CancelledError (engine.cancel gives one), else one that keeps it as its cause. */
function cancelledFor(reason: unknown): CancelledError {
  return isCancelledError(reason) ? reason : new CancelledError('run cancelled by its signal', reason);
}

function admit(c: Compiled, run: Run, level: Level): void {
  if (c.admission.submit(run, level, run.tenant) === 'granted') c.begin(run);
  else run.queued = true;
}

/** Asks the guards before admitting a new run: a refusal fails it (nothing ran), an allow admits it. */
function checkRun(core: Core, guards: Guards, c: Compiled, run: Run, level: Level): void {
  const check: { -readonly [K in keyof RunCheck]: RunCheck[K] } = { runId: run.id, topology: c.plan.name, input: run.input };
  if (run.tenant !== undefined) check.tenant = run.tenant;
  if (run.user !== undefined) check.user = run.user;
  if (run.project !== undefined) check.project = run.project;
  const variant = run.decision?.variant;
  if (variant !== undefined) check.variant = variant;
  const apply = (v: RunVerdict): void => {
    reportRun(core, run, v);
    if (run.status !== R_RUNNING) {
      // ended while the guards were asked (cancelled, shut down): free what they reserved
      if (v.action === 'allow') v.ended?.('refused');
      return;
    }
    if (v.action === 'deny') {
      core.finish(run, R_FAILED, v.error);
      return;
    }
    run.guardEnded = v.ended;
    admit(c, run, level);
  };
  const v = guards.run(check);
  if (typeof (v as { then?: unknown }).then === 'function') {
    (v as Promise<RunVerdict>).then(apply, (e: unknown) => apply({ action: 'deny', rule: 'guard', error: new PolicyError('POLICY_FAILED', 'the guards failed while checking a run (refused: fail-closed)', { cause: e }) }));
  } else apply(v as RunVerdict);
}

/** A `policy.decision` event for a run check that was not a plain allow. */
function reportRun(core: Core, run: Run, v: RunVerdict): void {
  const bus = core.bus;
  if (!bus.observed || (v.action === 'allow' && v.rule === undefined)) return;
  const e: { -readonly [K in keyof PolicyDecisionEvent]: PolicyDecisionEvent[K] } = { type: 'policy.decision', runId: run.id, topology: run.plan.name, stage: 'run', action: v.action, ts: Date.now() };
  if (v.rule !== undefined) e.rule = v.rule;
  if (v.action === 'deny') e.error = serializeError(v.error);
  if (run.tenant !== undefined) e.tenant = run.tenant;
  if (run.user !== undefined) e.user = run.user;
  if (run.project !== undefined) e.project = run.project;
  bus.next(e);
}

/** Asks the loop for a new run's decision; a loop that throws fails the run (LOOP_FAILED) instead of running it undecided. */
function decide(core: Core, loop: RunLoop, plan: Plan, run: Run): OrchestratorError | undefined {
  try {
    run.decision = loop.decide({ topology: plan.topology, version: topologyVersion(plan.topology), runId: run.id, tenant: run.tenant, user: run.user, input: run.input });
    return undefined;
  } catch (e) {
    core.log.error({ runId: run.id, err: e }, 'the loop failed to decide a run');
    return new RejectedError('LOOP_FAILED', `the feedback loop failed to decide run '${run.id}'`, { cause: e });
  }
}

/** Tells the loop a run ended; a loop that throws is logged, never fails the run (it has ended). */
function tellLoop(core: Core, loop: RunLoop, run: Run): void {
  try {
    loop.ended(summaryOf(run));
  } catch (e) {
    core.log.error({ runId: run.id, err: e }, 'the loop failed on an ended run');
  }
}

/** Per-node settings of a run: the decision's, with the run's own (RunOptions `overrides`) over them node by node. */
function mergeOverrides(
  decided: Readonly<Record<string, NodeOverride>> | undefined, own: Readonly<Record<string, NodeOverride>>,
): Readonly<Record<string, NodeOverride>> {
  if (decided === undefined) return own;
  const out: Record<string, NodeOverride> = { ...decided };
  for (const [id, o] of Object.entries(own)) out[id] = { ...decided[id], ...o };
  return out;
}

/** A recovered run's totals start from what its nodes spent before the crash (by node id). */
function seedUsage(run: Run, spent: Readonly<Record<string, UsageTotals>>): void {
  for (const [id, u] of Object.entries(spent)) {
    const i = run.plan.indexOf(id);
    if (i === undefined) continue;
    addTotals(((run.nodeUsage ??= [])[i] ??= zeroTotals()), u);
    addTotals((run.usage ??= zeroTotals()), u);
  }
}
