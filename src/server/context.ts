/**
 * What every route of the server is given: the backend runs execute on, the run
 * history, the keys, the parsed options and a logger. Routes are plain functions
 * `(app, ctx) => void` registered by `createServer`; none of them owns state.
 * @module
 */
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Meter } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.ts';
import type { RunsView } from '../runtime/runs.ts';
import type { Health } from '../transports/health.ts';
import type { KeyStore, Principal } from './access.ts';
import type { RunBackend } from './backend.ts';
import type { ParsedServerOptions } from './options.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller of a `/v1` request (set by the auth hook before any handler). */
    principal: Principal | undefined;
  }
}

/**
 * The fastify instance routes register on: zod schemas type and validate requests and replies.
 *
 * @example
 * ```ts
 * export function healthRoutes(app: ServerApp, ctx: ServerContext): void { app.get('/healthz', ...); }
 * ```
 */
export type ServerApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/**
 * The parts the server is built from (see `createServer`).
 *
 * @example
 * ```ts
 * const deps: ServerDeps = { backend: createLocalBackend(engine, [rag]), runs: engine.runs, keys };
 * ```
 */
export interface ServerDeps {
  readonly backend: RunBackend;
  /** Run history: list, get, history, state at a seq (`engine.runs`). */
  readonly runs: RunsView;
  readonly keys: KeyStore;
  readonly logger?: Logger;
  /** Answers `GET /metrics` (a Prometheus exporter's request handler); without it /metrics is 404. */
  readonly metrics?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Health of the parts behind the server (store, Kafka); `GET /healthz` reports it. */
  readonly health?: Health;
  /** Where the server's own metrics go (streams open, clients dropped). Default: the global meter provider's (a no-op without one). */
  readonly meter?: Meter;
}

/**
 * What a route function gets besides the app.
 *
 * @example
 * ```ts
 * const principal = ctx.principal(request); // set by the auth hook on /v1 routes
 * ```
 */
export interface ServerContext extends ServerDeps {
  readonly options: ParsedServerOptions;
  readonly log: Logger;
}

/**
 * A route module: registers its routes on the app.
 *
 * @example
 * ```ts
 * const health: Routes = (app, ctx) => { app.get('/healthz', async () => ctx.health?.report() ?? { status: 'up' }); };
 * ```
 */
export type Routes = (app: ServerApp, ctx: ServerContext) => void;
