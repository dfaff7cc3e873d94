/**
 * `llm-orchestrator/transport`: the message transport seam (`Transport`), the
 * in-memory transport (the embedded default), the Avro codec of every message
 * kind and the message types. Kafka is in `llm-orchestrator/kafka`.
 *
 * @example
 * ```ts
 * import { createMemoryTransport } from 'llm-orchestrator/transport';
 * const transport = createMemoryTransport();
 * ```
 * @module
 */
export { createMemoryTransport, type MemoryTransportOptions } from './memory.ts';
export { topicNames, type Transport, type TopicNames, type Envelope, type OutMessage, type ReadOptions, type ConsumeOptions, type ConsumeContext, type ConsumeHandler, type Consumption } from './transport.ts';
export { createHealthBoard, mergeHealth, type Health, type HealthBoard, type HealthReport, type HealthStatus, type ComponentHealth, type TransportEvent } from './health.ts';
export { createCodec, SCHEMA_FILES, SCHEMA_HEADER, KIND_HEADER, type Codec, type Encoded, type Decoded } from './codec.ts';
export { CodecOptionsSchema, type CodecOptions } from './codec.ts';
export { WIRE_FORMATS, type WireFormat } from './framing.ts';
export type { SchemaRegistryClient } from './registry.ts';
export type {
  Messages, MessageKind, RunRequestMessage, RunResultMessage, TokenBatchMessage, LifecycleEventMessage, FeedbackMessage,
  PolicyUpdateMessage, AuditMessage, DeadLetterMessage, NodeTaskMessage, NodeResultMessage, SignalMessage,
  EvaluationRequestMessage, ExperienceMessage,
} from './messages.ts';
export { EvaluationRequestSchema, ExperienceSchema } from './checks.ts';
export { isParkedResult, RUN_PARKED, SIGNAL_REJECTED, SignalSchema } from './messages.ts';
