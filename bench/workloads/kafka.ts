/**
 * Shared by the Kafka workloads (W11, W12): the broker list from KAFKA_BROKERS,
 * the skip note without it, and a topic prefix per measurement.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { RunContext } from '../lib/types.ts';
import type { KafkaSetup } from '../systems/types.ts';

/** Brokers from KAFKA_BROKERS (comma-separated), or undefined when it is not set. */
export function kafkaBrokers(): string[] | undefined {
  const list = process.env['KAFKA_BROKERS']?.split(',').map((s) => s.trim()).filter(Boolean);
  return list === undefined || list.length === 0 ? undefined : list;
}

/** The skip reason of a Kafka workload when no broker is configured. */
export const skipWithoutKafka = (): string | undefined =>
  kafkaBrokers() === undefined
    ? 'KAFKA_BROKERS is not set. Start a broker with `bash scripts/kafka-local.sh start` and pass what it prints, e.g. `KAFKA_BROKERS=127.0.0.1:19092 npm run bench`.'
    : undefined;

/** Brokers and a topic prefix no other measurement uses (`bench-w11-<time>-<random>`). */
export function kafkaSetup(ctx: RunContext, tag: string): KafkaSetup {
  const brokers = kafkaBrokers();
  if (brokers === undefined) throw new Error('KAFKA_BROKERS is not set');
  return { brokers, prefix: `bench-${tag}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`, log: ctx.log };
}
