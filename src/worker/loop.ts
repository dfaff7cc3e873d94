/**
 * A worker's feedback loop on a transport (`createWorker({ loop })`): what the
 * loop emits goes out, what it learns from comes in.
 *
 * - Out: the loop's evaluation requests go to the `evaluation` topic and its
 *   experience records to the `experience` topic (keyed by run id) through a
 *   bounded outbox (outbox.ts): the worker admits no new run while it is full,
 *   and what cannot be sent is counted lost and turns `loop.publisher` down.
 * - Policies: every worker reads the whole (compacted) policies topic with a
 *   reader of its own, from the beginning, and applies each update to its loop
 *   in order; `start()` resolves only once the reader has caught up with what the
 *   topic held, so a worker that starts late serves its first request with the
 *   current policies (while it reads, `loop.policies` is degraded and says for how long).
 *   Later updates apply live. An update the loop refuses
 *   (`applyPolicy` -> `ok: false`, e.g. an unknown node or a stale version)
 *   leaves the previous version current, and is dead-lettered with the loop's
 *   issues as the reason, once per deployment: the worker group's consumer of
 *   the policies topic (`<group>.policies`) fails such a record non-retriably
 *   (`POLICY_REFUSED`) after this process's reader reported its outcome.
 * - Feedback: every worker must see every feedback message (a feedback message
 *   judges a run that any worker of the deployment may have run), so each reads
 *   the feedback topic from now with a reader of its own, not in the shared
 *   group. A worker joins the feedback of the runs it knows; for the others its
 *   loop counts `unknown_run` (expected: with N workers, about N-1 of N feedback
 *   messages are another worker's). The group consumer of the feedback topic
 *   (`<group>.feedback`) only dead-letters feedback that cannot be decoded or is
 *   invalid, once per deployment (readers skip such records).
 *
 * Compaction keeps the last update per target (the key): the history `llmo policy
 * rollback` needs lasts until the broker compacts the topic's older segments, and an
 * update the loops refuse, if it is the last of its target, shadows the previous valid
 * version for workers that start after compaction. `llmo policy apply` validates before
 * it publishes; publish a valid version to repair a target.
 *
 * Health parts: `loop.policies` and `loop.feedback` (down when their reader
 * failed for good), `loop.publisher`.
 * @module
 */
import type { Observer, Subscription } from 'rxjs';
import { formatIssues, OrchestratorError, type Issue } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { FeedbackLoop, PolicyOutcome } from '../loops/types.ts';
import type { HealthBoard } from '../transports/health.ts';
import { GOVERNANCE_POLICY_TARGET, type FeedbackMessage, type Messages, type PolicyUpdateMessage } from '../transports/messages.ts';
import type { Consumption, Envelope, Transport } from '../transports/transport.ts';
import { createOutbox, type Outbox } from './outbox.ts';

/**
 * What {@link linkLoop} needs.
 *
 * @example
 * ```ts
 * const link = linkLoop({ loop, transport, group: worker.group, health: board, logger, feedback$, policies$ });
 * ```
 */
export interface LoopLinkDeps {
  readonly loop: FeedbackLoop;
  readonly transport: Transport;
  /** The worker's request group; the dead-lettering groups are `<group>.policies` and `<group>.feedback`. */
  readonly group: string;
  readonly health: HealthBoard;
  readonly logger: Logger;
  /** Every feedback message this process reads (the worker's `feedback$`). */
  readonly feedback$: Pick<Observer<FeedbackMessage>, 'next'>;
  /** Every policy update this process reads, from the oldest (the worker's `policies$`). */
  readonly policies$: Pick<Observer<PolicyUpdateMessage>, 'next'>;
  /** Where the dead-lettering groups start without a committed offset. */
  readonly offsetReset?: 'earliest' | 'latest' | undefined;
  /** Longest the policies group waits for this process's reader to reach a record, ms. Default 60,000. */
  readonly policyWaitMs?: number | undefined;
  /** High-water mark of the outbox (see outbox.ts). Default 1000. */
  readonly maxQueued?: number | undefined;
}

/**
 * Counts of a worker's loop traffic.
 *
 * @example
 * ```ts
 * const s: LoopLinkStats = worker.loopStats!; // { policiesApplied: 3, policiesRefused: 1, feedback: 120, evaluations: 40, experience: 12, lost: 0 }
 * ```
 */
export interface LoopLinkStats {
  /** Policy updates the loop applied (duplicates included). */
  readonly policiesApplied: number;
  /** Policy updates the loop refused (the previous version stayed). */
  readonly policiesRefused: number;
  /** Feedback messages given to the loop (whatever their outcome: see `loop.counters()`). */
  readonly feedback: number;
  /** Evaluation requests and experience records sent. */
  readonly evaluations: number;
  readonly experience: number;
  /** Evaluation requests and experience records that could not be sent. */
  readonly lost: number;
}

/**
 * A started link.
 *
 * @example
 * ```ts
 * await link.start(); // policies applied, feedback reader positioned
 * await link.ready(); // before each run: waits while the outbox is full
 * await link.stop();
 * ```
 */
export interface LoopLink {
  start(): Promise<void>;
  ready(): Promise<void>;
  /** Sends what the loop emitted so far. */
  flush(): Promise<void>;
  stop(): Promise<void>;
  readonly stats: LoopLinkStats;
}

/** How often a reader that has not caught up yet says so on the health board, ms. */
const SLOW_READ_MS = 15_000;

/** Outcomes of policy records by `partition:offset` kept for the policies group (the most recent ones). */
const KEEP_OUTCOMES = 10_000;

const refusal = (u: PolicyUpdateMessage, issues: readonly Issue[]): string =>
  `policy update ${u.target} v${u.version} (${u.policyId}) refused by the loop; the previous version stays:\n${formatIssues(issues)}`;

/**
 * Links a loop to a transport (see the module doc). Nothing runs before `start()`.
 *
 * @example
 * ```ts
 * const link = linkLoop({ loop, transport, group, health: board, logger, feedback$, policies$ });
 * await link.start();
 * ```
 */
export function linkLoop(deps: LoopLinkDeps): LoopLink {
  const { loop, transport, health, group } = deps;
  const log = deps.logger.child({ component: 'worker-loop' });
  const reset = deps.offsetReset === undefined ? {} : { offsetReset: deps.offsetReset };
  const policyWaitMs = deps.policyWaitMs ?? 60_000;
  const subscriptions: Subscription[] = [];
  const consumptions: Consumption[] = [];
  const outcomes = new Map<string, PolicyOutcome>();
  const waiting = new Map<string, ((o: PolicyOutcome) => void)[]>();
  let outbox: Outbox | undefined;
  let applied = 0;
  let refused = 0;
  let feedback = 0;

  const apply = (m: Envelope<PolicyUpdateMessage>): void => {
    // governance rules are the policy guards' (applied by whoever runs them), not the loop's: neither applied nor refused here
    if (m.value.target === GOVERNANCE_POLICY_TARGET) {
      deps.policies$.next(m.value);
      return;
    }
    let outcome: PolicyOutcome;
    try {
      outcome = loop.applyPolicy(m.value);
    } catch (e) {
      outcome = { ok: false, issues: [{ code: 'loop_failed', path: [], message: `the loop threw: ${(e as Error).message}` }] };
    }
    if (outcome.ok) applied++;
    else {
      refused++;
      log.warn({ target: m.value.target, version: m.value.version, issues: outcome.issues }, 'policy update refused; the previous version stays');
    }
    const at = `${m.partition}:${m.offset}`;
    outcomes.set(at, outcome);
    if (outcomes.size > KEEP_OUTCOMES) outcomes.delete(outcomes.keys().next().value!);
    for (const w of waiting.get(at) ?? []) w(outcome);
    waiting.delete(at);
    deps.policies$.next(m.value);
  };

  /** The outcome this process's reader had for a record, once it got there. */
  const outcomeOf = (partition: number, offset: string, signal: AbortSignal): Promise<PolicyOutcome> => {
    const at = `${partition}:${offset}`;
    const known = outcomes.get(at);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise<PolicyOutcome>((resolve, reject) => {
      const timer = setTimeout(() => fail(new OrchestratorError('POLICY_NOT_READ', `the policy reader did not reach ${at} within ${policyWaitMs} ms`, { retriable: true })), policyWaitMs);
      const done = (o: PolicyOutcome): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        resolve(o);
      };
      const fail = (e: unknown): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        const list = waiting.get(at);
        if (list !== undefined) waiting.set(at, list.filter((w) => w !== done));
        reject(e);
      };
      const aborted = (): void => fail(new OrchestratorError('POLICY_NOT_READ', `stopped waiting for the policy reader at ${at}`, { retriable: true }));
      signal.addEventListener('abort', aborted, { once: true });
      waiting.set(at, [...(waiting.get(at) ?? []), done]);
    });
  };

  /** A reader: resolves when `until` is reached; its failure before that rejects, after it turns the part down. */
  const read = <K extends 'policy' | 'feedback'>(kind: K, part: string, fromBeginning: boolean, next: (m: Envelope<Messages[K]>) => void): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let started = false;
      const since = Date.now();
      // not silent while it waits: the part says how long it has been reading (the worker serves nothing meanwhile)
      const slow = setInterval(() => health.set(part, 'degraded', `reading the ${kind} topic: not caught up after ${Math.round((Date.now() - since) / 1000)} s`), SLOW_READ_MS);
      slow.unref();
      const begun = (): void => {
        if (started) return;
        started = true;
        clearInterval(slow);
        health.set(part, 'up');
        resolve();
      };
      const source = transport.read(kind, fromBeginning ? { fromBeginning, onCaughtUp: begun } : { fromBeginning, onReady: begun });
      subscriptions.push(source.subscribe({
        next,
        error: (e: unknown) => {
          const why = `the ${kind} reader failed: ${(e as Error).message}`;
          clearInterval(slow);
          health.set(part, 'down', why);
          log.error({ err: e, kind }, why);
          if (!started) reject(e);
        },
      }));
    });

  return {
    async start() {
      const box = (outbox = createOutbox(transport, { logger: log, health, maxQueued: deps.maxQueued }));
      subscriptions.push(loop.evaluations$.subscribe((e) => box.push('evaluation', e.runId, e)));
      subscriptions.push(loop.experience$.subscribe((x) => box.push('experience', x.runId, x)));
      // current policies first: the worker serves no request before they are applied
      await Promise.all([
        read('policy', 'loop.policies', true, apply),
        read('feedback', 'loop.feedback', false, (m) => {
          feedback++;
          try {
            loop.feedback(m.value);
          } catch (e) {
            log.error({ err: e, feedbackId: m.value.feedbackId }, 'the loop threw on feedback'); // a FeedbackLoop never throws; counted as read
          }
          deps.feedback$.next(m.value);
        }),
      ]);
      consumptions.push(await transport.consume('policy', { group: `${group}.policies`, maxInFlight: 64, ...reset, essential: false }, async (m, { signal }) => {
        if (m.value.target === GOVERNANCE_POLICY_TARGET) return;
        const o = await outcomeOf(m.partition, m.offset, signal);
        if (!o.ok) throw new OrchestratorError('POLICY_REFUSED', refusal(m.value, o.issues), { retriable: false });
      }));
      // decoding and validation dead-letter bad feedback once per deployment; the readers above did the rest
      consumptions.push(await transport.consume('feedback', { group: `${group}.feedback`, maxInFlight: 64, ...reset, essential: false }, async () => undefined));
      log.info({ policies: loop.policies().map((p) => `${p.target}@${p.version}`) }, 'feedback loop linked');
    },
    ready: () => outbox?.ready() ?? Promise.resolve(),
    flush: () => outbox?.flush() ?? Promise.resolve(),
    async stop() {
      for (const s of subscriptions.splice(0)) s.unsubscribe();
      await Promise.all(consumptions.splice(0).map((c) => c.stop().catch((e: unknown) => log.warn({ err: e }, 'stopping a loop consumer failed'))));
      await outbox?.flush();
      health.remove('loop.policies');
      health.remove('loop.feedback');
    },
    get stats() {
      return {
        policiesApplied: applied, policiesRefused: refused, feedback,
        evaluations: outbox?.sent.evaluation ?? 0, experience: outbox?.sent.experience ?? 0, lost: outbox?.lost ?? 0,
      };
    },
  };
}
