/**
 * How a route that starts a run (`POST /v1/runs`, `POST /v1/runs/:id/fork`) answers:
 * 202 with the run's links as soon as the run is recorded, or with `wait` its outcome (200) once it ends
 * within the server's `waitTimeoutMs` (else the 202 body). A run the engine refused
 * before it ran (bad input, bad fork, taken id) answers that refusal's error body.
 * @module
 */
import type { FastifyReply } from 'fastify';
import type { RunOutcome, StartedRun } from '../backend.ts';
import type { ServerContext } from '../context.ts';
import { ApiFailure, ENGINE_STATUS } from '../errors.ts';
import { errorView, usageView } from '../views.ts';

/** Codes of a run refused before any node ran: the request was wrong, not the run. */
const REFUSALS = new Set(['INPUT_INVALID', 'FORK_INVALID', 'RUN_EXISTS', 'TOPOLOGY_CHANGED', 'RUN_NOT_FOUND']);

/**
 * The 202 body of an accepted run.
 *
 * @example
 * ```ts
 * accepted('r-1'); // { runId: 'r-1', status: 'running', links: { self: '/v1/runs/r-1', stream: '/v1/runs/r-1/stream' } }
 * ```
 */
export function accepted(runId: string): { runId: string; status: 'running'; links: { self: string; stream: string } } {
  const self = `/v1/runs/${encodeURIComponent(runId)}`;
  return { runId, status: 'running', links: { self, stream: `${self}/stream` } };
}

/**
 * A {@link RunOutcome} as plain JSON.
 *
 * @example
 * ```ts
 * reply.send(outcomeView(await started.done));
 * ```
 */
export function outcomeView(o: RunOutcome): Record<string, unknown> {
  return {
    runId: o.runId, topology: o.topology, status: o.status,
    ...(o.output === undefined ? {} : { output: o.output }),
    ...(o.error === undefined ? {} : { error: errorView(o.error) }),
    ...(o.usage === undefined ? {} : { usage: usageView(o.usage) }),
    ...(o.startedAt === undefined ? {} : { startedAt: o.startedAt }),
    ...(o.endedAt === undefined ? {} : { endedAt: o.endedAt }),
  };
}

/**
 * The outcome, or undefined when `ms` pass first (the timer is cleared either way).
 *
 * @example
 * ```ts
 * const outcome = await within(started.done, 60_000);
 * ```
 */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, ms, undefined); });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once the run's row is in the store (the engine records it on its next tick), or
 * the run has settled, or `waitTimeoutMs` passed: a 202 is sent only for a run that a
 * `GET /v1/runs/:id` or a stream opened right after it finds.
 *
 * @example
 * ```ts
 * await recorded(ctx, started);
 * ```
 */
export async function recorded(ctx: ServerContext, started: StartedRun): Promise<void> {
  let settled = false;
  void started.done.then(() => { settled = true; });
  const deadline = Date.now() + ctx.options.waitTimeoutMs;
  for (let k = 0; !settled && Date.now() < deadline; k++) {
    if ((await ctx.runs.get(started.runId)) !== undefined) return;
    await new Promise<void>((resolve) => (k < 8 ? setImmediate(resolve) : setTimeout(resolve, Math.min(50, 2 ** (k - 8)))));
  }
}

/**
 * Answers a started run: 202 at once, or with `wait` its outcome (200), its refusal (4xx), or 202 after `waitTimeoutMs`.
 *
 * @example
 * ```ts
 * return answerRun(ctx, reply, ctx.backend.start(start), body.wait);
 * ```
 */
export async function answerRun(ctx: ServerContext, reply: FastifyReply, started: StartedRun, wait: boolean): Promise<FastifyReply> {
  if (!wait) {
    await recorded(ctx, started);
    return reply.code(202).send(accepted(started.runId));
  }
  const outcome = await within(started.done, ctx.options.waitTimeoutMs);
  if (outcome === undefined) {
    await recorded(ctx, started);
    return reply.code(202).send(accepted(started.runId));
  }
  const e = outcome.error;
  if (outcome.status === 'failed' && e !== undefined && e.nodeId === undefined && REFUSALS.has(e.code)) {
    throw new ApiFailure(ENGINE_STATUS[e.code] ?? 400, e.code, e.message, e.issues);
  }
  return reply.code(200).send(outcomeView(outcome));
}
