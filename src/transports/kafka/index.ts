/**
 * `llm-orchestrator/kafka`: the Kafka transport (kafkajs, Avro via avsc).
 *
 * @example
 * ```ts
 * import { createKafkaTransport } from 'llm-orchestrator/kafka';
 * const transport = createKafkaTransport({ brokers: ['127.0.0.1:9092'] });
 * ```
 * @module
 */
export { createKafkaTransport, KafkaTransportOptionsSchema, type KafkaTransportOptions, type KafkaTransport } from './transport.ts';
export { isUnreachable } from './failures.ts';
export { isAuthFailure, isTlsFailure } from './failures.ts';
export { KafkaSaslSchema, KafkaSslSchema, redactKafkaOptions, REDACTED } from './security.ts';
export type { TopicMismatch } from './admin.ts';
export { createSchemaRegistryClient, SchemaRegistryOptionsSchema, type SchemaRegistryOptions } from './registry.ts';
