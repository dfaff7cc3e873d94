/**
 * Routes: the /v1/runs API: start a run, list runs, get one run, its stored events and
 * its state at any event (time travel). Cancel, signal and fork are in `run-actions.ts`.
 * Every route sees only the caller's tenant's runs of topologies the key has a role on.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { isStoreError, toIssues } from '../../errors.ts';
import type { Topology } from '../../definition/types.ts';
import { foldRun } from '../../runtime/fold.ts';
import type { RunRecord } from '../../runtime/store.ts';
import { can } from '../access.ts';
import { principalOf } from '../auth.ts';
import type { Routes, ServerContext } from '../context.ts';
import { ApiFailure } from '../errors.ts';
import { errorReplies } from '../schemas/common.ts';
import {
  EventsQuerySchema, ListRunsQuerySchema, RunAcceptedSchema, RunEventsSchema, RunListSchema, RunOutcomeSchema, RunParamsSchema,
  RunStateSchema, RunViewSchema, StartRunBodySchema, StateQuerySchema, type RunSummary,
} from '../schemas/runs.ts';
import { runSummary, runView, stateView, type SummaryExtra } from '../views.ts';
import { answerRun } from './answer.ts';
import { backendReady, visibleRun, visibleTopology } from './lookup.ts';

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** What a list row adds to its record: the variant (from `run.started`) and, once ended, the usage (from the terminal event). */
async function summaryOf(ctx: ServerContext, rec: RunRecord): Promise<RunSummary> {
  if (rec.lastSeq < 0) return runSummary(rec);
  let extra: SummaryExtra = {};
  try {
    const [first, last] = await Promise.all([
      ctx.runs.history(rec.runId, { toSeq: 0 }),
      ENDED.has(rec.status) && rec.lastSeq > 0 ? ctx.runs.history(rec.runId, { fromSeq: rec.lastSeq }) : Promise.resolve([]),
    ]);
    const f = foldRun([...first, ...last]);
    extra = { usage: f.usage, variant: f.decision?.variant };
  } catch (e) {
    if (!(isStoreError(e) && e.code === 'RUN_NOT_FOUND')) throw e; // deleted since listed: its row is all there is
  }
  return runSummary(rec, extra);
}

/**
 * Registers POST /v1/runs, GET /v1/runs, GET /v1/runs/:id, /v1/runs/:id/events and /v1/runs/:id/state.
 *
 * @example
 * ```ts
 * runRoutes(app, ctx);
 * ```
 */
export const runRoutes: Routes = (app, ctx) => {
  app.post('/v1/runs', {
    schema: {
      tags: ['runs'],
      summary: 'Start a run: 202 at once, or with `wait` 200 with its outcome when it ends within the server\'s wait timeout',
      body: StartRunBodySchema,
      response: { 200: RunOutcomeSchema, 202: RunAcceptedSchema, ...errorReplies(400, 403, 404, 409, 413, 415, 503) },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    const b = request.body;
    const t = visibleTopology(ctx, p, b.topology, 'runs.start') as Topology;
    // The engine checks the input too, but a refused run is never stored: refuse it here, with or without `wait`.
    const parsed = await t.input?.safeParseAsync(b.input);
    if (parsed !== undefined && !parsed.success) {
      const issues = toIssues(parsed.error.issues, ['body', 'input']);
      throw new ApiFailure(400, 'INPUT_INVALID', `input of topology '${t.name}' is invalid: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, issues);
    }
    const runId = b.runId ?? randomUUID();
    if (b.runId !== undefined && (await ctx.runs.get(runId)) !== undefined) throw new ApiFailure(409, 'RUN_EXISTS', `a run '${runId}' exists; give another runId or none`);
    backendReady(ctx);
    const started = ctx.backend.start({
      topology: b.topology, input: b.input, runId, tenant: p.tenant, user: p.name ?? p.keyId,
      ...(b.project === undefined ? {} : { project: b.project }),
    });
    return answerRun(ctx, reply, started, b.wait);
  });

  app.get('/v1/runs', {
    schema: {
      tags: ['runs'],
      summary: 'The caller\'s runs, newest first, by status (comma-separated) and topology, a page at a time (`next` is the cursor of the next page)',
      querystring: ListRunsQuerySchema,
      response: { 200: RunListSchema, ...errorReplies(400) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const q = request.query;
    if (q.topology !== undefined && !can(p, 'runs.read', q.topology)) return { runs: [] };
    const page = await ctx.runs.list({
      tenant: p.tenant, limit: q.limit,
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.topology === undefined ? {} : { topology: q.topology }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    // A page keeps the store's cursor: rows of topologies the key has no role on are left out of it, never read.
    const runs = await Promise.all(page.runs.filter((r) => r.tenant === p.tenant && can(p, 'runs.read', r.topology)).map((r) => summaryOf(ctx, r)));
    return { runs, ...(page.next === undefined ? {} : { next: page.next }) };
  });

  app.get('/v1/runs/:id', {
    schema: {
      tags: ['runs'], summary: 'One run: status, input, output, usage and every node\'s state',
      params: RunParamsSchema, response: { 200: RunViewSchema, ...errorReplies(404) },
    },
  }, async (request) => {
    const rec = await visibleRun(ctx, principalOf(request), request.params.id);
    const folded = rec.lastSeq < 0 ? undefined : await ctx.runs.stateAt(rec.runId, { seq: rec.lastSeq });
    return runView(rec, folded);
  });

  app.get('/v1/runs/:id/events', {
    schema: {
      tags: ['runs'], summary: 'A run\'s stored events in `seq` order, optionally a window of them (inclusive)',
      params: RunParamsSchema, querystring: EventsQuerySchema, response: { 200: RunEventsSchema, ...errorReplies(400, 404) },
    },
  }, async (request) => {
    const rec = await visibleRun(ctx, principalOf(request), request.params.id);
    const { fromSeq, toSeq } = request.query;
    const events = await ctx.runs.history(rec.runId, { ...(fromSeq === undefined ? {} : { fromSeq }), ...(toSeq === undefined ? {} : { toSeq }) });
    return { events };
  });

  app.get('/v1/runs/:id/state', {
    schema: {
      tags: ['runs'], summary: 'A run\'s state as of event `seq` (default its last): time travel over its log',
      params: RunParamsSchema, querystring: StateQuerySchema, response: { 200: RunStateSchema, ...errorReplies(400, 404) },
    },
  }, async (request) => {
    const rec = await visibleRun(ctx, principalOf(request), request.params.id);
    if (rec.lastSeq < 0) return { seq: -1, status: 'pending' as const, nodes: {} };
    const seq = Math.min(request.query.seq ?? rec.lastSeq, rec.lastSeq);
    return stateView(await ctx.runs.stateAt(rec.runId, { seq }), seq);
  });
};
