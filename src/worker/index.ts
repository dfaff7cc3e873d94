/**
 * `llm-orchestrator/worker`: serve topologies from a transport (workers in a
 * consumer group), submit runs to them (client), publish an engine's tokens and
 * events, and run single nodes in another worker group (remote edges).
 *
 * @example
 * ```ts
 * import { createWorker } from 'llm-orchestrator/worker';
 * const worker = createWorker({ engine, transport, topologies: [rag] });
 * await worker.start();
 * ```
 * @module
 */
export { createWorker, WorkerOptionsSchema, type Worker, type WorkerOptions } from './worker.ts';
export { createClient, type Client, type SignalOptions, type SubmitOptions } from './client.ts';
export type { SignalStats } from './signals.ts';
export type { LoopLinkStats } from './loop.ts';
export { publishEvents, type Publisher, type PublishOptions } from './publisher.ts';
export { createRemoteExecutor, createRemoteWorker, type RemoteExecutorOptions, type RemoteWorkerOptions } from './remote.ts';
export { traceHeaders, type TraceSource } from './trace-headers.ts';
