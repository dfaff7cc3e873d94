/**
 * `createServer`: the HTTP API (`/v1`), its OpenAPI document, the live view and the
 * probes, on fastify with zod schemas for every request and reply. The server holds
 * no run logic: runs start on a {@link RunBackend}, history comes from the store.
 * @module
 */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../logger.ts';
import { parseOptions } from '../runtime/options.ts';
import { authenticate } from './auth.ts';
import type { Routes, ServerApp, ServerContext, ServerDeps } from './context.ts';
import { replyForError, sendError } from './errors.ts';
import { learnMethods } from './methods.ts';
import { optionalBodies, type OpenApiDoc } from './openapi.ts';
import { ServerOptionsSchema, type ServerOptions } from './options.ts';
import { ROUTES } from './routes/index.ts';

/** Trusts the `hops` proxies nearest the server (proxy-addr's hop-count function). */
const trustHops = (hops: number) => (_address: string, hop: number): boolean => hop < hops;

/** Version of the API document (`info.version`). */
export const OPENAPI_VERSION = '1.0.0';

/**
 * A built server: `listen` opens the port, `close` stops taking requests and ends open streams.
 *
 * @example
 * ```ts
 * const server = await createServer(deps, { port: 0 });
 * const url = await server.listen();
 * await server.close();
 * ```
 */
export interface LlmoServer {
  /** The fastify instance (for `inject` in tests). */
  readonly app: ServerApp;
  /** Listens; resolves with the base URL (`http://127.0.0.1:8787`). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Builds the server. Throws a ValidationError naming a bad option.
 *
 * @example
 * ```ts
 * const engine = createEngine({ store: createMemoryStore() });
 * const server = await createServer({ backend: createLocalBackend(engine, [rag]), runs: engine.runs, keys }, { port: 8787 });
 * console.log(await server.listen());
 * ```
 */
export async function createServer(deps: ServerDeps, options: ServerOptions = {}, routes: readonly Routes[] = ROUTES): Promise<LlmoServer> {
  const o = parseOptions(ServerOptionsSchema, options, 'server options');
  const fastify = Fastify({
    bodyLimit: o.bodyLimit,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: true,
    // a hop count as the function fastify makes of one (its types take no number)
    trustProxy: typeof o.trustProxy === 'number' ? trustHops(o.trustProxy) : o.trustProxy,
    ...(o.tls === undefined ? {} : { https: { cert: o.tls.cert, key: o.tls.key } }),
  });
  const app = fastify.withTypeProvider() as unknown as ServerApp;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', undefined);
  const ctx: ServerContext = { ...deps, options: o, log: deps.logger ?? silentLogger };
  const allowed = learnMethods(app);
  const notFound = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0]!;
    const methods = allowed(path);
    if (methods.length === 0) return sendError(reply, 404, 'NOT_FOUND', `no route ${request.method} ${path}; the API is under /v1, its document at /openapi.json`);
    reply.header('allow', methods.join(', '));
    return sendError(reply, 405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; it answers ${methods.join(', ')}`);
  };
  app.setErrorHandler((e, request, reply) => {
    // a request no route takes can fail before the not-found handler (a QUERY without a body type): it still gets 404 or 405
    if (request.is404) return notFound(request, reply);
    const sent = replyForError(reply, e);
    if (reply.statusCode >= 500) ctx.log.error({ err: e, reqId: request.id, url: request.url }, 'request failed');
    return sent;
  });
  app.setNotFoundHandler(notFound);
  // The document is made from the routes' zod schemas: register it before any route.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'llm-orchestrator API', version: OPENAPI_VERSION, description: 'Runs of llm-orchestrator topologies: start, watch (Server-Sent Events), cancel, signal, fork.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`llmo keys create`), as `Authorization: Bearer <key>`.' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (doc) => optionalBodies(jsonSchemaTransformObject(doc) as OpenApiDoc) as ReturnType<typeof jsonSchemaTransformObject>,
  });
  // before authentication: a browser's preflight carries no key, and is answered in the first hook
  if (o.corsOrigins !== undefined) {
    await app.register(cors, {
      origin: o.corsOrigins.includes('*') ? '*' : o.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-api-key', 'last-event-id'],
      exposedHeaders: ['retry-after', 'allow'],
      maxAge: 600,
    });
  }
  authenticate(app, ctx);
  for (const r of routes) r(app, ctx);
  await app.ready();
  return {
    app,
    async listen() {
      await app.listen({ host: o.host, port: o.port });
      app.server.maxConnections = o.maxConnections;
      const { port } = app.server.address() as AddressInfo;
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      return `${o.tls === undefined ? 'http' : 'https'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    },
    close: () => app.close(),
  };
}
