/**
 * One held kafkajs batch of a group consumer: records are started while a
 * handler slot is free (the shared Limiter, across partitions), offsets are
 * resolved only up to the first record that is not done (handled, or
 * dead-lettered) and committed as that prefix grows, one commit at a time.
 * When a heartbeat or a commit says the group is rebalancing or this member
 * lost its generation, no new record is started: the ones in flight finish,
 * the finished prefix is committed, and the batch ends with that error so
 * kafkajs rejoins at once; likewise when no heartbeat got out for a whole
 * session (the event loop was blocked). Deliveries are counted per record until committed, or until
 * the record ran to its end without the event loop stalling for a whole session meanwhile (then it
 * was not what got the member expelled: forgiven). A record delivered again unforgiven is a suspect
 * and runs alone (no record starts until it settled, at most a session), so a record that blocks the
 * event loop is told apart from the bystanders that ran beside it, which run alone in turn and are
 * forgiven; only the blocker reaches `maxDeliveries`. When dead-lettering fails, the record stays not done
 * and the batch ends with a `DEAD_LETTER_FAILED` error once the others in
 * flight finished (kafkajs fetches it again, then crashes; the consumer restarts).
 * @module
 */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { OrchestratorError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { Limiter, Wake } from '../../primitives/limiter.ts';
import { sleep } from '../../primitives/sleep.ts';
import { reasonOf, runAttempts } from '../attempts.ts';
import type { Codec } from '../codec.ts';
import type { ResolvedConsumeOptions } from '../consume-options.ts';
import type { DeliveryCounter } from '../deliveries.ts';
import type { TransportEvent } from '../health.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { ConsumeHandler } from '../transport.ts';
import { decodeRecord, headersOf, keyOf } from './decode.ts';

/** kafkajs error types that mean this member's generation is over: it must rejoin before it commits again. */
const GENERATION_LOST = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

/**
 * Whether `e` (a kafkajs error, or its cause) says the group is rebalancing or this member is no longer in it.
 *
 * @example
 * ```ts
 * heartbeat().catch((e: unknown) => { if (isGenerationLost(e)) drain(e); });
 * ```
 */
export function isGenerationLost(e: unknown): e is Error {
  for (let c = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    if (GENERATION_LOST.has((c as { type?: string }).type ?? '')) return true;
  }
  return false;
}

/** Heartbeat period while a batch is held, ms (kafkajs sends one only every `heartbeatInterval`). */
const BEAT_MS = 1000;

/**
 * What a batch needs from its consumption: shared across batches (and restarts) of one consumption.
 *
 * @example
 * ```ts
 * const eachBatch = createEachBatch({ kind: 'request', topic, group, codec, options, handler, slots, deliveries, deadLetter, emit, log, membership });
 * ```
 */
export interface BatchDeps<K extends MessageKind> {
  readonly kind: K;
  readonly topic: string;
  readonly group: string;
  readonly codec: Codec;
  readonly options: ResolvedConsumeOptions;
  readonly handler: ConsumeHandler<Messages[K]>;
  readonly slots: Limiter<Wake>;
  readonly deliveries: DeliveryCounter;
  readonly deadLetter: (partition: number, message: KafkaMessage, reason: string) => Promise<void>;
  readonly emit: (e: TransportEvent) => void;
  readonly log: Logger;
  readonly membership: Membership;
  /** The group session timeout, ms: a batch whose heartbeats were silent that long (e.g. the event loop was blocked) starts nothing new. */
  readonly sessionTimeoutMs: number;
}

/**
 * The consumption's side of a batch: whether to start records, and what to tell it.
 *
 * @example
 * ```ts
 * const membership: Membership = { stopped: () => false, lost: () => undefined, generationLost: drain, deadLetterFailed: markDown, recordDone: maybeUp };
 * ```
 */
export interface Membership {
  /** The consumption is stopping: start nothing new. */
  stopped(): boolean;
  /** The error that ended this member's generation, until it rejoined: start nothing new, end the batch with it. */
  lost(): Error | undefined;
  /** A heartbeat or a commit said the generation is over. */
  generationLost(e: Error): void;
  /** Dead-lettering the record at `partition`/`offset` failed (`reason` says why). */
  deadLetterFailed(partition: number, offset: string, reason: string): void;
  /** The record at `partition`/`offset` was handled or dead-lettered. */
  recordDone(partition: number, offset: string): void;
}

/** One commit at a time; commits asked for meanwhile coalesce into the next. Never rejects. */
function committer(commit: () => Promise<void>, failed: (e: unknown) => void): { request(): void; flush(): Promise<void> } {
  let running: Promise<void> | undefined;
  let dirty = false;
  const request = (): void => {
    if (running !== undefined) {
      dirty = true;
      return;
    }
    running = commit().catch(failed).finally(() => {
      running = undefined;
      if (dirty) {
        dirty = false;
        request();
      }
    });
  };
  return {
    request,
    async flush() {
      while (running !== undefined) await running;
    },
  };
}

/**
 * The kafkajs `eachBatch` of a consumption (see the module doc for the contract).
 *
 * @example
 * ```ts
 * await consumer.run({ autoCommit: true, eachBatchAutoResolve: false, eachBatch: createEachBatch(deps) });
 * ```
 */
export function createEachBatch<K extends MessageKind>(deps: BatchDeps<K>): (payload: EachBatchPayload) => Promise<void> {
  const { options, membership, slots, deliveries, emit, log, topic, group } = deps;
  /**
   * A suspect running alone, across the consumption's batches: until it settles (or a whole session
   * passed: then it did not block the event loop) no record starts, so if the event loop blocks again,
   * the suspect alone is to blame.
   */
  let alone: Promise<unknown> | undefined;
  const whileAlone = async (): Promise<void> => {
    while (alone !== undefined) await alone;
  };
  return async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
    const { partition } = batch;
    const offsets = batch.messages.map((m) => m.offset);
    const finished = new Set<string>();
    let next = 0;
    let deadLetterFailure: string | undefined;
    const lose = (e: unknown): void => {
      if (isGenerationLost(e)) membership.generationLost(e);
    };
    // Delivery counts are pruned once committed, not when done: a handler that blocked the event loop until
    // the member was expelled is done, but its commit fails and it comes again, and that must be counted.
    let pruned = 0;
    const commits = committer(async () => {
      const upTo = next;
      await commitOffsetsIfNecessary();
      for (; pruned < upTo; pruned++) deliveries.forget(partition, offsets[pruned]!);
    }, (e: unknown) => {
      const reason = reasonOf(e);
      log.warn({ err: e, topic, partition, group }, 'offset commit failed');
      emit({ type: 'commit.failed', topic, group, reason, ts: Date.now() });
      lose(e);
    });
    // Resolve only the contiguous done prefix: the committed offset never passes a record that is not done.
    const advance = (): void => {
      const before = next;
      while (next < offsets.length && finished.has(offsets[next]!)) resolveOffset(offsets[next++]!);
      if (next > before) commits.request();
    };
    const done = (m: KafkaMessage): void => {
      finished.add(m.offset);
      advance();
      membership.recordDone(partition, m.offset);
    };
    const settle = async (m: KafkaMessage, reason: string): Promise<void> => {
      try {
        await deps.deadLetter(partition, m, reason);
      } catch (e) {
        const why = `dead-lettering ${topic}[${partition}] offset ${m.offset} failed: ${reasonOf(e)}`;
        log.error({ err: e, topic, partition, offset: m.offset }, 'dead-lettering failed; the record is not committed and comes again');
        deadLetterFailure ??= why;
        membership.deadLetterFailed(partition, m.offset, why);
        emit({ type: 'dead-letter.failed', topic, partition, offset: m.offset, reason: why, ts: Date.now() });
        return;
      }
      done(m);
    };
    const handle = async (m: KafkaMessage, value: Messages[K]): Promise<void> => {
      const run = { startedAt: Date.now(), blocked: false };
      inFlight.add(run);
      let outcome: Awaited<ReturnType<typeof runAttempts>>;
      try {
        outcome = await runAttempts({ key: keyOf(m), value, partition, offset: m.offset, headers: headersOf(m.headers) }, deps.handler, options, (attempt, reason) => {
          log.warn({ topic, partition, offset: m.offset, attempt, maxAttempts: options.maxAttempts, reason }, 'handler failed');
          emit({ type: 'handler.failed', topic, partition, offset: m.offset, attempt, maxAttempts: options.maxAttempts, reason, ts: Date.now() });
        });
      } finally {
        inFlight.delete(run);
      }
      // Ran to its end without the event loop stalling for a whole session meanwhile: whatever got this
      // member expelled, it was not this record, so its deliveries do not count against it.
      if (!run.blocked && Date.now() - Math.max(lastTick, run.startedAt) <= deps.sessionTimeoutMs) deliveries.forget(partition, m.offset);
      if (outcome.ok) done(m);
      else await settle(m, outcome.reason);
    };
    // Silent for a whole session (a handler blocked the event loop): this member is expelled, whatever it has not
    // heard yet. Start nothing more, or every record behind the blocker would be run (and counted) in a dead generation.
    let heardAt = Date.now();
    /** The records of this batch running now, each marked when the event loop stalled for a whole session while it ran. */
    const inFlight = new Set<{ readonly startedAt: number; blocked: boolean }>();
    let lastTick = Date.now();
    const beat = setInterval(() => {
      const now = Date.now();
      if (now - lastTick > deps.sessionTimeoutMs) for (const run of inFlight) run.blocked = true;
      lastTick = now;
      heartbeat().then(() => { heardAt = Date.now(); }, lose);
    }, BEAT_MS);
    const silent = (): boolean => Date.now() - heardAt > deps.sessionTimeoutMs;
    const running: Promise<void>[] = [];
    const over = (): boolean =>
      deadLetterFailure !== undefined || membership.stopped() || membership.lost() !== undefined || !isRunning() || isStale() || silent();
    try {
      for (const m of batch.messages) {
        if (over()) break;
        const decoded = decodeRecord(deps.codec, deps.kind, m);
        const d = decoded instanceof Promise ? await decoded : decoded; // a Promise only when a registry schema must be fetched
        if (!d.ok) {
          await settle(m, d.reason);
          continue;
        }
        if (alone !== undefined) await whileAlone();
        const turn = slots.acquire(1);
        if (turn !== 'granted') await turn; // unbounded queue: never 'full'
        if (alone !== undefined) await whileAlone();
        if (over()) {
          slots.release();
          break;
        }
        const n = deliveries.count(partition, m.offset);
        if (n > options.maxDeliveries) {
          slots.release();
          await settle(m, `redelivered ${n - 1} times`);
          continue;
        }
        const handling = handle(m, d.value).finally(() => slots.release());
        running.push(handling);
        if (n > 1) {
          // A suspect: delivered before and not forgiven (it was running when the event loop stalled, or never
          // ended). It runs alone, so a record that blocks the event loop is told apart from the bystanders
          // that ran beside it; those run alone in turn, end, and are forgiven.
          const timer = new AbortController();
          const gate: Promise<unknown> = Promise.race([handling, sleep(deps.sessionTimeoutMs, timer.signal)]).catch(() => undefined).finally(() => {
            timer.abort();
            if (alone === gate) alone = undefined;
          });
          alone = gate;
          await gate;
        }
      }
      await Promise.all(running);
      await commits.flush();
    } finally {
      clearInterval(beat);
    }
    if (deadLetterFailure !== undefined) throw new OrchestratorError('DEAD_LETTER_FAILED', deadLetterFailure, { retriable: true });
    const lost = membership.lost();
    if (lost !== undefined) throw lost; // kafkajs rejoins at once on a rebalancing / unknown member error
  };
}
