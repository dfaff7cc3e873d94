/**
 * Routes: GET /healthz (health of the parts behind the server, 503 when down),
 * /readyz (ready to take runs), /metrics (Prometheus text) and /openapi.json (the API
 * document). None of them needs a key.
 * @module
 */
import * as z from 'zod';
import type { HealthReport } from '../../transports/health.ts';
import type { Routes } from '../context.ts';
import { ApiErrorSchema, sendError } from '../errors.ts';

const HealthStatusSchema = z.enum(['up', 'degraded', 'down']);

/**
 * Schema of `GET /healthz`: the worst status of the parts and each part (the run backend included).
 *
 * @example
 * ```ts
 * const h = HealthSchema.parse(await (await fetch(`${url}/healthz`)).json());
 * ```
 */
export const HealthSchema = z.object({
  status: HealthStatusSchema,
  components: z.record(z.string(), z.object({ status: HealthStatusSchema, since: z.number(), reason: z.string().optional() })),
}).meta({ id: 'Health' });

/**
 * Schema of `GET /readyz`.
 *
 * @example
 * ```ts
 * ReadySchema.parse({ ready: true, backend: 'local' });
 * ```
 */
export const ReadySchema = z.object({ ready: z.boolean(), backend: z.enum(['local', 'kafka']) }).meta({ id: 'Ready' });

const RANK = { up: 0, degraded: 1, down: 2 } as const;

/**
 * Registers GET /healthz, /readyz, /metrics and /openapi.json.
 *
 * @example
 * ```ts
 * healthRoutes(app, ctx);
 * ```
 */
export const healthRoutes: Routes = (app, ctx) => {
  const since = Date.now();
  let backendSince = since;
  let backendUp = true;
  const report = (): HealthReport => {
    const parts: HealthReport = ctx.health?.report() ?? { status: 'up', components: {} };
    const up = ctx.backend.ready();
    if (up !== backendUp) {
      backendUp = up;
      backendSince = Date.now();
    }
    const backend = up
      ? { status: 'up' as const, since: backendSince }
      : { status: 'down' as const, since: backendSince, reason: `the ${ctx.backend.kind} run backend is not ready` };
    const status = RANK[backend.status] > RANK[parts.status] ? backend.status : parts.status;
    return { status, components: { ...parts.components, backend } };
  };

  app.get('/healthz', {
    schema: { tags: ['probes'], summary: 'Health of the server\'s parts: 200 up or degraded, 503 down', security: [], response: { 200: HealthSchema, 503: HealthSchema } },
  }, async (_request, reply) => {
    const r = report();
    return reply.code(r.status === 'down' ? 503 : 200).send(r);
  });

  app.get('/readyz', {
    schema: { tags: ['probes'], summary: 'Ready to take runs: 200, else 503', security: [], response: { 200: ReadySchema, 503: ReadySchema } },
  }, async (_request, reply) => {
    const ready = ctx.backend.ready();
    return reply.code(ready ? 200 : 503).send({ ready, backend: ctx.backend.kind });
  });

  app.get('/metrics', {
    schema: {
      tags: ['probes'], summary: 'Prometheus metrics (404 when the server was built without them)', security: [],
      response: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } }, 404: ApiErrorSchema },
    },
  }, async (request, reply) => {
    const metrics = ctx.metrics;
    if (metrics === undefined) return sendError(reply, 404, 'METRICS_DISABLED', 'this server exports no metrics (start it with metrics on)');
    reply.hijack();
    metrics(request.raw, reply.raw);
    return reply;
  });

  app.get('/openapi.json', {
    schema: {
      tags: ['probes'], summary: 'This API\'s OpenAPI 3.1 document', security: [],
      response: { 200: z.looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) }) },
    },
  }, async () => app.swagger() as unknown as { openapi: string; info: { title: string; version: string }; paths: Record<string, unknown> });
};
