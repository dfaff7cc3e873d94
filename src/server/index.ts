/**
 * The HTTP server (`llm-orchestrator/server`): the `/v1` API with Server-Sent-Event
 * streams, API keys with tenants and roles, the OpenAPI document and the live view.
 * `llmo serve` is this server on the embedded default.
 * @module
 */
export { createServer, OPENAPI_VERSION, type LlmoServer } from './server.ts';
export { ServerOptionsSchema, type ServerOptions, type ParsedServerOptions } from './options.ts';
export { createLocalBackend, outcomeOf, type RunBackend, type StartRun, type StartedRun, type RunOutcome } from './backend.ts';
export {
  ROLES, RoleSchema, RolesSchema, NewRolesSchema, ACTION_ROLE, can, roleOn,
  type Role, type Roles, type Action, type Principal, type KeyStore, type NewKey, type KeyInfo, type CreatedKey,
} from './access.ts';
export { createMemoryKeyStore, newSecret, hashSecret } from './keys/memory.ts';
export { openKeyStore, DEFAULT_KEYS_FILE } from './keys/open.ts';
export { createFileKeyStore } from './keys/file.ts';
export { createSqliteKeyStore } from './keys/sqlite.ts';
export { createKafkaBackend, outcomeOfMessage, type KafkaBackendOptions } from './backend-kafka.ts';
export { ApiErrorSchema, type ApiError } from './errors.ts';
export type { ServerDeps, ServerContext, ServerApp, Routes } from './context.ts';
export { streamRoutesWith, type StreamRouteOptions } from './routes/stream.ts';
export { createStreamHub, type StreamHub, type StreamHubStats, type StreamHubTuning, type StreamDroppedEvent } from './stream/hub.ts';
