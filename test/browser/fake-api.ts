/**
 * A stand-in for the few `/v1` routes the live view calls, shaped exactly like the API contract
 * (me, topologies, start/list/get a run, its events, its state at a seq, its stream). Used only
 * while the real routes are not on this branch; it reads the same backend and run store.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ReplaySubject } from 'rxjs';
import type { EngineEvent } from '../../src/runtime/events.ts';
import { buildGraph } from '../../src/compiler/graph.ts';
import type { AnyTopology } from '../../src/definition/types.ts';
import type { RunRecord } from '../../src/runtime/store.ts';
import { principalOf } from '../../src/server/auth.ts';
import type { Routes } from '../../src/server/context.ts';
import { sendError } from '../../src/server/errors.ts';

const viewOf = (t: AnyTopology) => {
  const { graph } = buildGraph(t);
  return {
    name: t.name, version: 'v1', ...(t.description === undefined ? {} : { description: t.description }),
    nodes: t.nodes.map((n) => ({ id: n.id, kind: n.kind, after: [...n.after] })),
    edges: graph.out.flat().map((e) => ({
      from: graph.ids[e.from]!, to: graph.ids[e.to]!, gate: e.gate.kind,
      ...(e.gate.kind === 'branch' ? { branches: [...e.gate.branches] } : {}),
    })),
  };
};

const summaryOf = (r: RunRecord) => ({
  runId: r.runId, topology: r.topology, version: r.version, status: r.status, createdAt: r.createdAt, updatedAt: r.updatedAt, lastSeq: r.lastSeq,
  ...(['completed', 'failed', 'cancelled'].includes(r.status) ? { durationMs: r.updatedAt - r.createdAt } : {}),
});

/** The fake routes. */
export const fakeApiRoutes: Routes = (app, ctx) => {
  type Id = { Params: { id: string } };
  // The engine puts an event on its bus a tick before the store has it: a stream that subscribes
  // then reads the history could miss one. The fake keeps every run's live events from its start.
  const recorded = new Map<string, ReplaySubject<EngineEvent>>();
  const own = async (id: string, tenant: string) => {
    const r = await ctx.runs.get(id);
    return r !== undefined && r.tenant === tenant ? r : undefined;
  };
  app.get('/v1/me', async (req) => principalOf(req));
  app.get('/v1/topologies', async () => ({ topologies: [...ctx.backend.topologies.values()].map(viewOf) }));
  app.get<{ Params: { name: string } }>('/v1/topologies/:name', async (req, reply) => {
    const t = ctx.backend.topologies.get(req.params.name);
    return t === undefined ? sendError(reply, 404, 'TOPOLOGY_NOT_FOUND', 'no such topology') : viewOf(t);
  });
  app.post<{ Body: { topology: string; input: unknown } }>('/v1/runs', async (req, reply) => {
    const p = principalOf(req);
    const runId = randomUUID();
    ctx.backend.start({ topology: req.body.topology, input: req.body.input, runId, tenant: p.tenant, user: p.name ?? p.keyId });
    const r = new ReplaySubject<EngineEvent>();
    ctx.backend.live(runId).subscribe(r);
    recorded.set(runId, r);
    return reply.code(202).send({ runId, status: 'running', links: { self: `/v1/runs/${runId}`, stream: `/v1/runs/${runId}/stream` } });
  });
  app.get('/v1/runs', async (req) => {
    const { runs } = await ctx.runs.list({ tenant: principalOf(req).tenant, limit: 25 });
    const withUsage = await Promise.all(runs.map(async (r) => {
      const s = r.lastSeq < 0 ? undefined : await ctx.runs.stateAt(r.runId, { seq: r.lastSeq });
      return { ...summaryOf(r), ...(s?.usage === undefined ? {} : { usage: s.usage }) };
    }));
    return { runs: withUsage };
  });
  app.get<Id>('/v1/runs/:id', async (req, reply) => {
    const r = await own(req.params.id, principalOf(req).tenant);
    if (r === undefined) return sendError(reply, 404, 'RUN_NOT_FOUND', 'no such run');
    const s = r.lastSeq < 0 ? undefined : await ctx.runs.stateAt(r.runId, { seq: r.lastSeq });
    return { ...summaryOf(r), input: r.input, ...(r.output === undefined ? {} : { output: r.output }), nodes: s?.nodes ?? {}, ...(s?.usage === undefined ? {} : { usage: s.usage }) };
  });
  app.get<Id>('/v1/runs/:id/events', async (req, reply) => {
    if ((await own(req.params.id, principalOf(req).tenant)) === undefined) return sendError(reply, 404, 'RUN_NOT_FOUND', 'no such run');
    return { events: await ctx.runs.history(req.params.id) };
  });
  app.get<Id & { Querystring: { seq: string } }>('/v1/runs/:id/state', async (req, reply) => {
    if ((await own(req.params.id, principalOf(req).tenant)) === undefined) return sendError(reply, 404, 'RUN_NOT_FOUND', 'no such run');
    const seq = Number(req.query.seq);
    const s = await ctx.runs.stateAt(req.params.id, { seq });
    return { seq, status: s.status, nodes: s.nodes, ...(s.output === undefined ? {} : { output: s.output }), ...(s.error === undefined ? {} : { error: s.error }) };
  });
  app.get<Id>('/v1/runs/:id/stream', async (req, reply) => {
    const id = req.params.id;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    let lastSeq = -1;
    let n = 0;
    const write = (e: { type: string; seq?: unknown }): void => {
      if (typeof e.seq === 'number') {
        if (e.seq <= lastSeq) return;
        lastSeq = e.seq;
        n = 0;
        res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      } else if (e.type === 'node.token' || e.type === 'node.restart') res.write(`id: ${lastSeq}:${n++}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    let replaying = true;
    let ended = false;
    const buffered: { type: string }[] = [];
    const end = async (): Promise<void> => {
      sub.unsubscribe();
      const r = await ctx.runs.get(id);
      res.end(`event: end\ndata: ${JSON.stringify({ status: r?.status ?? 'unknown' })}\n\n`);
    };
    const sub = (recorded.get(id) ?? ctx.backend.live(id)).subscribe({
      next: (e) => (replaying ? buffered.push(e) : write(e)),
      complete: () => { ended = true; if (!replaying) void end(); },
    });
    for (const e of await ctx.runs.history(id).catch(() => [])) write(e);
    replaying = false;
    for (const e of buffered) write(e);
    if (ended) await end();
  });
};
