/**
 * Finding what a request names, as its caller may see it: a run of the caller's tenant
 * on a topology the key has a role on, or a served topology the key has a role on.
 * Anything else is 404, worded exactly as for an unknown id, so ids leak nothing;
 * a run or topology the caller sees but may not act on is 403.
 * @module
 */
import type { AnyTopology } from '../../definition/types.ts';
import type { RunRecord } from '../../runtime/store.ts';
import { can, type Action, type Principal } from '../access.ts';
import type { ServerContext } from '../context.ts';
import { ApiFailure } from '../errors.ts';

/**
 * The 404 of a run the caller cannot see (unknown, another tenant's, or of a topology the key has no role on).
 *
 * @example
 * ```ts
 * throw runNotFound('r-1');
 * ```
 */
export function runNotFound(runId: string): ApiFailure {
  return new ApiFailure(404, 'RUN_NOT_FOUND', `no run '${runId}'`);
}

/**
 * The 404 of a topology the caller cannot see.
 *
 * @example
 * ```ts
 * throw topologyNotFound('rag');
 * ```
 */
export function topologyNotFound(name: string): ApiFailure {
  return new ApiFailure(404, 'TOPOLOGY_NOT_FOUND', `no topology '${name}' is served here`);
}

/**
 * The 403 of an action the caller's role on a topology does not allow.
 *
 * @example
 * ```ts
 * throw forbidden(principal, 'runs.start', 'rag');
 * ```
 */
export function forbidden(principal: Principal, action: Action, topology: string): ApiFailure {
  return new ApiFailure(403, 'FORBIDDEN', `key ${principal.keyId} may not ${action.replace('.', ' ').replace(/^(\w+) (\w+)$/, '$2 $1')} of topology '${topology}': its role there is too weak`);
}

/**
 * The stored run `runId` if the caller may read it and, when `action` is given, act on it;
 * otherwise throws 404 (cannot see it) or 403 (sees it, may not do `action`).
 *
 * @example
 * ```ts
 * const rec = await visibleRun(ctx, principal, request.params.id, 'runs.cancel');
 * ```
 */
export async function visibleRun(ctx: ServerContext, principal: Principal, runId: string, action?: Action): Promise<RunRecord> {
  const rec = await ctx.runs.get(runId);
  if (rec === undefined || rec.tenant !== principal.tenant || !can(principal, 'runs.read', rec.topology)) throw runNotFound(runId);
  if (action !== undefined && !can(principal, action, rec.topology)) throw forbidden(principal, action, rec.topology);
  return rec;
}

/**
 * The served topology `name` if the caller has a role on it (else 404) and, when `action`
 * is given, may do it (else 403).
 *
 * @example
 * ```ts
 * const t = visibleTopology(ctx, principal, 'rag', 'runs.start');
 * ```
 */
export function visibleTopology(ctx: ServerContext, principal: Principal, name: string, action?: Action): AnyTopology {
  const t = ctx.backend.topologies.get(name);
  if (t === undefined || !can(principal, 'topologies.read', name)) throw topologyNotFound(name);
  if (action !== undefined && !can(principal, action, name)) throw forbidden(principal, action, name);
  return t;
}

/**
 * Throws 503 `BACKEND_NOT_READY` when the run backend cannot take runs now (a Kafka backend not connected yet).
 *
 * @example
 * ```ts
 * backendReady(ctx);
 * const started = ctx.backend.start(run);
 * ```
 */
export function backendReady(ctx: ServerContext): void {
  if (!ctx.backend.ready()) throw new ApiFailure(503, 'BACKEND_NOT_READY', `the ${ctx.backend.kind} run backend cannot take runs now; try again (GET /readyz says when it can)`);
}
