/**
 * `@platformatic/kafka` behind our `Transport` (the prototype in
 * platformatic-transport.ts), running OUR engine, publisher, worker and client
 * on the Kafka workloads (W11, W12, W12b), to compare the client library with
 * kafkajs on the same paths. It runs no DAGs.
 * @module
 */
import { createPlatformaticTransport } from './platformatic-transport.ts';
import { kafkaClient, kafkaServe, kafkaTokens, kafkaWorker, type TransportFactory } from './llm-orchestrator-kafka.ts';
import type { SystemAdapter } from './types.ts';

const notDag = (): never => {
  throw new Error('platformatic is a Kafka client under our transport interface; it runs no DAGs');
};

const platformatic: TransportFactory = (setup, clientId) => createPlatformaticTransport({ brokers: setup.brokers, prefix: setup.prefix, clientId });

export const system: SystemAdapter = {
  id: 'platformatic',
  chain: notDag,
  fan: notDag,
  pump: notDag,
  kafkaTokens: (setup) => kafkaTokens(setup, platformatic),
  kafkaWorker: (setup, maxInFlight) => kafkaWorker(setup, maxInFlight, platformatic),
  kafkaClient: (setup) => kafkaClient(setup, platformatic),
  kafkaServe: (setup, maxInFlight) => kafkaServe(setup, maxInFlight, platformatic),
};
