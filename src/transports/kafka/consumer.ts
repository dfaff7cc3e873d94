/**
 * Group consumption with bounded handlers and prefix commits (each held batch:
 * batch.ts), and the consumer's life: its health part `consumer:<topic>:<group>`
 * is `up` once the group join completes; a crash is `down` with the reason and a
 * `consumer.crashed` event, and the consumer is re-created after a doubling,
 * capped backoff (`consumer.restarted` and `up` once it joined again). kafkajs's
 * own restart is turned off on purpose: it restarts only crashes it deems
 * retriable, forever, and says nothing; here every crash takes one path, with an
 * attempt limit after which the part stays `down` (so a CLI can exit non-zero).
 * Rebalances are `rebalance` events (`started`, `joined`); the batches in hand
 * stop starting records at once (see batch.ts) so a joining member waits for the
 * handlers in flight only, at most `rebalanceTimeoutMs`.
 * @module
 */
import type { Consumer, ConsumerCrashEvent, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../../logger.ts';
import { Limiter } from '../../primitives/limiter.ts';
import { reasonOf } from '../attempts.ts';
import type { Codec } from '../codec.ts';
import { resolveConsumeOptions } from '../consume-options.ts';
import { DeliveryCounter } from '../deliveries.ts';
import type { HealthBoard, TransportEvent } from '../health.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { Consumption, ConsumeHandler, ConsumeOptions } from '../transport.ts';
import { createEachBatch, type Membership } from './batch.ts';

/**
 * Default of {@link GroupConsumerDeps.maxRestarts}.
 *
 * @example
 * ```ts
 * consumeGroup('request', { ...deps, maxRestarts: DEFAULT_MAX_RESTARTS }, options, handle); // 10
 * ```
 */
export const DEFAULT_MAX_RESTARTS = 10;
/**
 * Default of {@link GroupConsumerDeps.restartBackoffMs}.
 *
 * @example
 * ```ts
 * consumeGroup('request', { ...deps, restartBackoffMs: DEFAULT_RESTART_BACKOFF_MS }, options, handle); // 1000
 * ```
 */
export const DEFAULT_RESTART_BACKOFF_MS = 1000;
// Short: once the broker is back, a consumer is back within seconds (a worker exits when down for 30 s, `--exit-on-down-ms`).
// After a broker restart a join still waits for the crashed member's session to end (the coordinator reloads the
// group with it), so every group of a worker is back about `sessionTimeoutMs` after the broker; a longer backoff
// here (5 s, with kafkajs's own doubling connect waits on top) left some groups down past the next restart.
const RESTART_BACKOFF_CAP_MS = 2_000;
/** Longest wait for a crashed consumer's disconnect before its replacement starts, ms. */
const DISCONNECT_WAIT_MS = 5_000;

/**
 * What {@link consumeGroup} needs.
 *
 * @example
 * ```ts
 * const deps: GroupConsumerDeps = { kafka, topic, codec, sessionTimeoutMs: 10_000, deadLetter, log, health, emit: (e) => events.next(e) };
 * ```
 */
export interface GroupConsumerDeps {
  readonly kafka: Pick<Kafka, 'consumer'>;
  readonly topic: string;
  readonly codec: Codec;
  /** How fast a dead member's partitions move to the others, ms. */
  readonly sessionTimeoutMs: number;
  /**
   * How long a rebalance waits for the members to rejoin, ms: a member first finishes its handlers in
   * flight; one that takes longer is expelled (its records in flight come again elsewhere). Default
   * `max(2 × sessionTimeoutMs, handlerTimeoutMs + sessionTimeoutMs)`, 20 s with the default session:
   * a joining member waits at most that, not kafkajs's 60 s.
   */
  readonly rebalanceTimeoutMs?: number;
  /** Retries of a failing fetch or batch before the consumer crashes (kafkajs `retry.retries`). Default 5. */
  readonly retries?: number;
  /** Restarts of a crashed consumer in a row before giving up (its health part stays `down`). Default 10. */
  readonly maxRestarts?: number;
  /** Wait before the first restart, ms; doubles per restart in a row, capped at 2 s. Default 1000. */
  readonly restartBackoffMs?: number;
  /** Dead-letters a record (undecodable, invalid, failed every attempt, or redelivered too often). */
  readonly deadLetter: (partition: number, message: KafkaMessage, reason: string) => Promise<void>;
  /** The transport's health board: this consumption sets its part `consumer:<topic>:<group>`. */
  readonly health: HealthBoard;
  /** Publishes a transport event. */
  readonly emit: (e: TransportEvent) => void;
  readonly log: Logger;
}

/**
 * Joins `options.group` on the topic of `kind` and runs `handler` for each message, at most
 * `options.maxInFlight` at once, under the `Transport.consume` contract. A setup failure
 * disconnects the consumer and rejects.
 *
 * @example
 * ```ts
 * const c = await consumeGroup('request', deps, { group: 'workers', maxInFlight: 8 }, async (m) => handle(m.value));
 * await c.stop();
 * ```
 */
export async function consumeGroup<K extends MessageKind>(
  kind: K,
  deps: GroupConsumerDeps,
  options: ConsumeOptions,
  handler: ConsumeHandler<Messages[K]>,
): Promise<Consumption> {
  const o = resolveConsumeOptions(options);
  const { topic, health, emit, log } = deps;
  const group = o.group;
  const component = `consumer:${topic}:${group}`;
  const maxRestarts = deps.maxRestarts ?? DEFAULT_MAX_RESTARTS;
  const restartBackoffMs = deps.restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS;
  const rebalanceTimeout = deps.rebalanceTimeoutMs ?? Math.max(2 * deps.sessionTimeoutMs, (o.handlerTimeoutMs ?? 0) + deps.sessionTimeoutMs);
  /** What a passing outage makes this part: a side stream's (`essential: false`) leaves the process serving. */
  const outage = o.essential ? 'down' : 'degraded';
  const slots = Limiter.awaitable(o.maxInFlight);
  const deliveries = new DeliveryCounter();

  let stopped = false;
  let current: Consumer | undefined;
  /** Restarts in a row without a completed join. */
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let lost: Error | undefined;
  let rebalancing = false;
  let joined = false;
  /** Records whose dead-lettering failed and that are not done yet: the part is down while there are any. */
  const undeliverable = new Set<string>();

  const rebalanceStarted = (why: string): void => {
    if (rebalancing) return;
    rebalancing = true;
    log.info({ topic, group, why }, 'group rebalancing: no new records until rejoined');
    // not serving until it rejoins: a signal (degraded), never worse than a crash already said
    if (health.report().components[component]?.status === 'up') health.set(component, 'degraded', `rebalancing: ${why}`);
    emit({ type: 'rebalance', topic, group, phase: 'started', ts: Date.now() });
  };
  const membership: Membership = {
    stopped: () => stopped,
    lost: () => lost,
    generationLost(e) {
      lost ??= e;
      rebalanceStarted(reasonOf(e));
    },
    deadLetterFailed(partition, offset, reason) {
      undeliverable.add(`${partition}/${offset}`);
      health.set(component, outage, reason);
    },
    recordDone(partition, offset) {
      if (!undeliverable.delete(`${partition}/${offset}`) || undeliverable.size > 0) return;
      health.set(component, 'up');
    },
  };
  const eachBatch = createEachBatch({
    kind, topic, group, codec: deps.codec, options: o, handler, slots, deliveries, deadLetter: deps.deadLetter, emit, log, membership, sessionTimeoutMs: deps.sessionTimeoutMs,
  });

  const crashed = (consumer: Consumer, error: unknown): void => {
    if (consumer !== current || stopped) return;
    const reason = reasonOf(error);
    const again = restarts < maxRestarts;
    log.error({ err: error, topic, group, restarts, again }, 'consumer crashed');
    health.set(component, again ? outage : 'down', again ? `crashed: ${reason}` : `crashed, restarting given up after ${restarts} restarts: ${reason}`);
    emit({ type: 'consumer.crashed', topic, group, reason, restarting: again, ts: Date.now() });
    if (!again) return;
    const wait = Math.min(restartBackoffMs * 2 ** restarts, Math.max(restartBackoffMs, RESTART_BACKOFF_CAP_MS));
    restarts++;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopped) return;
      // bounded: a crashed consumer's disconnect can hang on a half-closed connection, and the restart must not wait for it
      const gone = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DISCONNECT_WAIT_MS);
        void consumer.disconnect().catch(() => undefined).finally(() => { clearTimeout(timer); resolve(); });
      });
      void gone.then(async () => {
        if (stopped) return;
        log.info({ topic, group, attempt: restarts }, 'consumer restarting');
        const next = await start().catch((e: unknown) => e);
        if (next !== undefined) crashed(current!, next);
      });
    }, wait);
  };

  const listen = (consumer: Consumer): void => {
    const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, () => {
      if (consumer !== current) return;
      lost = undefined;
      if (restarts > 0) emit({ type: 'consumer.restarted', topic, group, ts: Date.now() });
      else if (joined) {
        rebalanceStarted('rejoined');
        emit({ type: 'rebalance', topic, group, phase: 'joined', ts: Date.now() });
      }
      rebalancing = false;
      joined = true;
      restarts = 0;
      undeliverable.clear();
      health.set(component, 'up');
    });
    consumer.on(REBALANCING, () => {
      if (consumer === current && joined) rebalanceStarted('kafkajs is rejoining');
    });
    consumer.on(CRASH, (e: ConsumerCrashEvent) => crashed(consumer, e.payload.error));
  };

  /** Creates, connects and runs a new kafkajs consumer; rejects (after disconnecting it) when that fails. */
  const start = async (): Promise<undefined> => {
    const consumer: Consumer = deps.kafka.consumer({
      groupId: group,
      sessionTimeout: deps.sessionTimeoutMs,
      rebalanceTimeout,
      heartbeatInterval: Math.min(3000, Math.floor(deps.sessionTimeoutMs / 4)),
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 256 * 1024,
      // restarts are ours (see the module doc): kafkajs must not restart a crashed consumer by itself
      retry: { retries: deps.retries ?? 5, restartOnFailure: async () => false },
    });
    current = consumer;
    joined = false;
    lost = undefined;
    rebalancing = false;
    listen(consumer);
    try {
      await consumer.connect();
      log.debug({ topic, group }, 'consumer connected');
      // a restart that stop() overtook must not leave a consumer running
      if (!stopped) await consumer.subscribe({ topic, fromBeginning: o.offsetReset === 'earliest' });
      if (!stopped) await consumer.run({ autoCommit: true, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 8, autoCommitThreshold: 1, eachBatch });
      log.debug({ topic, group }, 'consumer running');
      if (stopped) await consumer.disconnect();
    } catch (e) {
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    return undefined;
  };

  if (health.report().components[component] === undefined) health.set(component, 'degraded', 'joining the group');
  try {
    await start();
  } catch (e) {
    stopped = true;
    health.remove(component);
    throw e;
  }
  return {
    get inFlight() { return slots.active; },
    stop: async () => {
      stopped = true;
      clearTimeout(restartTimer);
      try {
        await current?.disconnect();
      } finally {
        health.remove(component);
      }
    },
  };
}
