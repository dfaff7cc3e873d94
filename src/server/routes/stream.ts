/**
 * Routes: GET /v1/runs/:id/stream: a run's events and tokens as Server-Sent Events.
 * Stored events are `id: <seq>`, tokens `id: <seq>:<n>`; `Last-Event-ID` (header or
 * `?lastEventId=`) resumes after a position; the stream ends with `event: end` once the
 * run ends or parks. Streams of one server share a {@link StreamHub}: one backend
 * subscription and one serialization per event per run, however many clients.
 * @module
 */
import { metrics, type ObservableResult } from '@opentelemetry/api';
import * as z from 'zod';
import { INSTRUMENTATION_SCOPE, METRIC_LLMO_STREAM_DROPPED, METRIC_LLMO_STREAMS_OPEN } from '../../observability/metric-names.ts';
import { can } from '../access.ts';
import { principalOf } from '../auth.ts';
import type { Routes, ServerContext } from '../context.ts';
import { ApiErrorSchema, sendError } from '../errors.ts';
import { text } from '../schemas/common.ts';
import type { RunRecord } from '../../runtime/store.ts';
import { StreamClient } from '../stream/client.ts';
import { errorFrame, parseEventId, START } from '../stream/frame.ts';
import { createStreamHub, type StreamHub, type StreamHubTuning } from '../stream/hub.ts';

const ParamsSchema = z.object({ id: text().min(1).max(200) });
const QuerySchema = z.object({
  lastEventId: z.string().regex(/^\d{1,15}(:\d{1,15})?$/, 'expected a stream position such as 12 or 12:5').optional()
    .describe('Resume after this position (as the `Last-Event-ID` header, which wins when both are given).'),
});

/**
 * One message of the stream, as the OpenAPI document describes it: the fields of a Server-Sent
 * Event (the OpenAPI 3.1/3.2 convention for `text/event-stream`, as Schemathesis validates it).
 */
const EventStreamSchema = z.object({
  id: z.string().regex(/^\d{1,15}(:\d{1,15})?$/).optional()
    .describe('The stream position: `<seq>` for a stored event, `<seq>:<n>` for the n-th token after it (resume with Last-Event-ID); none on an `error` message'),
  event: z.string().min(1).describe('The engine event type (run.started, node.token, node.completed, ...), then `end`; `error` when the stream cannot go on'),
  data: z.string().meta({ contentMediaType: 'application/json' })
    .describe('The event as JSON; for `end`, `{"status": ...}`; for `error`, an error body'),
  retry: z.number().int().optional(),
}).describe(
  'Server-Sent Events: first the stored history after Last-Event-ID, then live events; last `event: end`. `: ping` comments every 15 s.',
);

/**
 * Options of {@link streamRoutesWith}: the hub's tuning, and a hook that gets the hub (tests, metrics).
 *
 * @example
 * ```ts
 * const routes = streamRoutesWith({ pingMs: 15_000, onHub: (hub) => { hubs.push(hub); } });
 * ```
 */
export interface StreamRouteOptions extends StreamHubTuning {
  readonly onHub?: (hub: StreamHub) => void;
}

/** Reads of the store while a run just started here is not recorded yet (its row is written on the next tick). */
const RECORD_TRIES = 20;
const RECORD_WAIT_MS = 5;

const recordOf = async (ctx: ServerContext, runId: string): Promise<RunRecord | undefined> => {
  for (let i = 0; ; i++) {
    const rec = await ctx.runs.get(runId);
    if (rec !== undefined || i >= RECORD_TRIES || !ctx.backend.holds(runId)) return rec;
    await new Promise((resolve) => setTimeout(resolve, RECORD_WAIT_MS));
  }
};

/**
 * The stream route with its own hub (made per server, closed with it).
 *
 * @example
 * ```ts
 * const server = await createServer(deps, { port: 0 }, [healthRoutes, streamRoutesWith({ pingMs: 1000 })]);
 * ```
 */
export function streamRoutesWith(options: StreamRouteOptions = {}): Routes {
  return (app, ctx) => {
    const meter = ctx.meter ?? metrics.getMeter(INSTRUMENTATION_SCOPE);
    const dropped = meter.createCounter(METRIC_LLMO_STREAM_DROPPED, { description: 'Stream clients dropped for not reading.', unit: '{client}' });
    const open = meter.createObservableGauge(METRIC_LLMO_STREAMS_OPEN, { description: 'Streams open.', unit: '{stream}' });
    const hub = createStreamHub({
      ...options, backend: ctx.backend, runs: ctx.runs, log: ctx.log,
      maxStreams: ctx.options.maxStreams, maxStreamsPerKey: ctx.options.maxStreamsPerKey, streamBufferBytes: ctx.options.streamBufferBytes,
      onEvent: (e) => {
        dropped.add(1);
        options.onEvent?.(e);
      },
    });
    const observeOpen = (r: ObservableResult): void => r.observe(hub.stats().clients);
    open.addCallback(observeOpen);
    options.onHub?.(hub);
    app.addHook('preClose', (done) => {
      open.removeCallback(observeOpen);
      hub.close();
      done();
    });
    app.get('/v1/runs/:id/stream', {
      schema: {
        summary: 'Stream a run\'s events and tokens (Server-Sent Events)',
        tags: ['runs'],
        params: ParamsSchema,
        querystring: QuerySchema,
        response: {
          200: { description: 'The run\'s events as Server-Sent Events', content: { 'text/event-stream': { schema: EventStreamSchema } } },
          400: ApiErrorSchema, 401: ApiErrorSchema, 404: ApiErrorSchema, 429: ApiErrorSchema, 503: ApiErrorSchema,
        },
      },
    }, async (request, reply) => {
      const principal = principalOf(request);
      const runId = request.params.id;
      const header = request.headers['last-event-id'];
      const given = typeof header === 'string' && header.length > 0 ? header : request.query.lastEventId;
      const from = given === undefined ? START : parseEventId(given);
      if (from === undefined) {
        return sendError(reply, 400, 'REQUEST_INVALID', `the Last-Event-ID header is not a stream position (expected such as 12 or 12:5): '${given!.slice(0, 40)}'`,
          [{ code: 'invalid_format', path: ['headers', 'last-event-id'], message: 'expected a stream position such as 12 or 12:5' }]);
      }
      const rec = await recordOf(ctx, runId);
      if (rec === undefined || rec.tenant !== principal.tenant || !can(principal, 'runs.read', rec.topology)) {
        return sendError(reply, 404, 'RUN_NOT_FOUND', `no run '${runId}'`);
      }
      const verdict = hub.admit(principal.keyId);
      if (verdict === 'streams') return sendError(reply, 503, 'STREAMS_EXHAUSTED', `the server has ${ctx.options.maxStreams} streams open, its limit; try again later`);
      if (verdict === 'key') return sendError(reply, 429, 'TOO_MANY_STREAMS', `this key has ${ctx.options.maxStreamsPerKey} streams open, its limit; close one first`);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      const client = new StreamClient(res, { runId, keyId: principal.keyId, limitBytes: ctx.options.streamBufferBytes });
      try {
        await hub.open(client, rec, from);
      } catch (e) {
        ctx.log.error({ err: e, runId, keyId: principal.keyId }, 'stream: reading the run failed');
        client.end(errorFrame(e));
      }
    });
  };
}

/**
 * Registers GET /v1/runs/:id/stream: a run's events and tokens as Server-Sent Events.
 *
 * @example
 * ```ts
 * streamRoutes(app, ctx);
 * ```
 */
export const streamRoutes: Routes = (app, ctx) => streamRoutesWith()(app, ctx);
