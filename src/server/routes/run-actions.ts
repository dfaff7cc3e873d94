/**
 * Routes: acting on a run: POST /v1/runs/:id/cancel, /v1/runs/:id/signals/:name and
 * /v1/runs/:id/fork. The caller must see the run (else 404, as for an unknown id) and
 * have the action's role on its topology (else 403).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { topologyVersions } from '../../runtime/version.ts';
import type { ForkOptions } from '../../runtime/fork.ts';
import { principalOf } from '../auth.ts';
import type { Routes } from '../context.ts';
import { ApiFailure } from '../errors.ts';
import { errorReplies } from '../schemas/common.ts';
import {
  CancelBodySchema, CancelledSchema, ForkBodySchema, RunAcceptedSchema, RunOutcomeSchema, RunParamsSchema, SignalBodySchema, SignalParamsSchema, SignalledSchema,
} from '../schemas/runs.ts';
import { answerRun } from './answer.ts';
import { backendReady, visibleRun } from './lookup.ts';

/**
 * Registers POST /v1/runs/:id/cancel, /v1/runs/:id/signals/:name and /v1/runs/:id/fork.
 *
 * @example
 * ```ts
 * runActionRoutes(app, ctx);
 * ```
 */
export const runActionRoutes: Routes = (app, ctx) => {
  app.post('/v1/runs/:id/cancel', {
    schema: {
      tags: ['runs'],
      summary: 'Cancel a run (an optional `reason` goes into its error): in flight on this server, or, with a store, parked, left by a dead process, or running in another process (which cancels it at its next lease renewal); 409 RUN_NOT_CANCELLABLE for a run that ended',
      params: RunParamsSchema, body: CancelBodySchema, response: { 202: CancelledSchema, ...errorReplies(400, 403, 404, 409) },
    },
  }, async (request, reply) => {
    const rec = await visibleRun(ctx, principalOf(request), request.params.id, 'runs.cancel');
    const done = await ctx.backend.cancel(rec.runId, request.body?.reason);
    if (done === false) {
      throw new ApiFailure(409, 'RUN_NOT_CANCELLABLE', `run '${rec.runId}' is ${rec.status} and not in flight on this server: only a run in flight here can be cancelled`);
    }
    return reply.code(202).send({ runId: rec.runId, cancelled: true as const, ...done });
  });

  app.post('/v1/runs/:id/signals/:name', {
    schema: {
      tags: ['runs'], summary: 'Send signal `name` to a run waiting on a `wait` node: the payload is checked by the node\'s schema',
      params: SignalParamsSchema, body: SignalBodySchema, response: { 202: SignalledSchema, ...errorReplies(400, 403, 404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const rec = await visibleRun(ctx, principalOf(request), request.params.id, 'runs.signal');
    await ctx.backend.signal(rec.runId, request.params.name, request.body.payload);
    return reply.code(202).send({ runId: rec.runId, signalled: request.params.name });
  });

  app.post('/v1/runs/:id/fork', {
    schema: {
      tags: ['runs'],
      summary: 'Fork a run: a new run runs node `from` and its descendants again, every other output comes from the parent\'s log',
      params: RunParamsSchema, body: ForkBodySchema,
      response: { 200: RunOutcomeSchema, 202: RunAcceptedSchema, ...errorReplies(400, 403, 404, 409, 413, 415, 503) },
    },
  }, async (request, reply) => {
    const rec = await visibleRun(ctx, principalOf(request), request.params.id, 'runs.fork');
    const b = request.body;
    const t = ctx.backend.topologies.get(rec.topology);
    if (t === undefined || !topologyVersions(t).includes(rec.version)) {
      throw new ApiFailure(409, 'TOPOLOGY_CHANGED', `run '${rec.runId}' was recorded under version ${rec.version} of topology '${rec.topology}', which this server does not serve`);
    }
    if (!t.nodes.some((n) => n.id === b.from)) {
      throw new ApiFailure(400, 'FORK_INVALID', `topology '${rec.topology}' has no node '${b.from}'`, [{ code: 'invalid_fork', path: ['body', 'from'], message: `topology '${rec.topology}' has no node '${b.from}'` }]);
    }
    const runId = b.runId ?? randomUUID();
    if (b.runId !== undefined && (await ctx.runs.get(runId)) !== undefined) throw new ApiFailure(409, 'RUN_EXISTS', `a run '${runId}' exists; give another runId or none`);
    backendReady(ctx);
    const overrides = {
      ...(Object.hasOwn(b, 'input') ? { input: b.input } : {}),
      ...(b.outputs === undefined ? {} : { outputs: b.outputs }),
      ...(b.nodes === undefined ? {} : { nodes: b.nodes }),
    };
    const options: ForkOptions = { from: b.from, runId, ...(Object.keys(overrides).length === 0 ? {} : { overrides }) };
    return answerRun(ctx, reply, ctx.backend.fork(rec.runId, options), b.wait);
  });
};
