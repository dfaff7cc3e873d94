/**
 * A stand-in for `GET /v1/runs/:id/stream`, shaped like the API contract (stored history, then
 * live events and tokens, then `event: end`), used only while the real route is not on this
 * branch. It wraps the backend so that every run's live events are kept from its start: the
 * engine puts an event on its bus a tick before the store has it, so a stream that subscribed
 * and then read the history could miss one.
 * @module
 */
import { ReplaySubject } from 'rxjs';
import type { EngineEvent } from '../../src/runtime/events.ts';
import type { RunBackend } from '../../src/server/backend.ts';
import type { Routes } from '../../src/server/context.ts';

/** The wrapped backend and the stream route reading it. */
export function fakeStream(inner: RunBackend): { backend: RunBackend; routes: Routes } {
  const recorded = new Map<string, ReplaySubject<EngineEvent>>();
  const backend: RunBackend = {
    ...inner,
    kind: inner.kind,
    topologies: inner.topologies,
    start(run) {
      const started = inner.start(run);
      const r = new ReplaySubject<EngineEvent>();
      inner.live(run.runId).subscribe(r);
      recorded.set(run.runId, r);
      return started;
    },
  };
  const routes: Routes = (app, ctx) => {
    app.get<{ Params: { id: string } }>('/v1/runs/:id/stream', async (req, reply) => {
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
  return { backend, routes };
}
