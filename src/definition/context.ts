/**
 * What a node's user functions receive at run time: the `NodeContext` of a node's function
 * (with the run's `Priority` and the `StreamChunk`s of the node it streams from) and the
 * `CompensationContext` of a saga step's undo. Part of the topology data model (`types.ts`).
 * @module
 */
import type { Observable } from 'rxjs';
import type { SerializedError } from '../errors.ts';

/**
 * Scheduling priority of a run. Waiting work is served high first, with aging so low is never starved.
 *
 * @example
 * ```ts
 * const result = await engine.run(review, { text: 'Streams keep memory flat.' }, { priority: 'high' });
 * ```
 */
export type Priority = 'high' | 'normal' | 'low';

/**
 * What a node's function receives. `D` are the typed outputs of the nodes it depends on.
 *
 * @example
 * ```ts
 * topology('qa', { input: z.object({ q: z.string() }) })
 *   .map('clean', { run: ({ input }) => input.q.trim() })
 *   .map('search', { after: ['clean'], run: ({ deps, signal }) => search(deps.clean, { signal }) });
 * ```
 */
export interface NodeContext<I = unknown, D = Record<string, unknown>> {
  /** The run's validated input. */
  readonly input: I;
  /** Outputs of the nodes listed in `after` (for a join: only the parents that ran). */
  readonly deps: D;
  /** Aborted when the run is cancelled, fails elsewhere, or this node times out. */
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly nodeId: string;
  /**
   * `<runId>:<nodeId>`: the same for every execution of this node in this run, also when a
   * durable run is recovered after a crash and the node runs again. Tools with side effects
   * (payments, emails, tickets) pass it to the service they call so a repeated call is a no-op.
   *
   * @example
   * ```ts
   * await payments.charge({ amount, idempotencyKey: ctx.idempotencyKey });
   * ```
   */
  readonly idempotencyKey: string;
  readonly priority: Priority;
  /** The experiment variant the run was assigned (engine with a `loop`); undefined otherwise. */
  readonly variant: string | undefined;
  /** Static configuration of the node (the `with` block of a JSON/YAML node). */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * The live token stream of the node named in this node's `streamFrom` (replayed
   * from its first token; completes when that node completes).
   */
  tokens(nodeId: string): Observable<StreamChunk>;
  /** Stops the generation of the `streamFrom` node: its request is aborted and it completes with what it has. */
  stop(nodeId: string, reason?: string): void;
}

/**
 * What a streaming consumer sees: tokens in order, and a marker when the producer restarted its call.
 *
 * @example
 * ```ts
 * ctx.tokens('gen').subscribe((c: StreamChunk) => (c.kind === 'token' ? out.write(c.text) : out.reset()));
 * ```
 */
export type StreamChunk =
  | { readonly kind: 'token'; readonly index: number; readonly text: string }
  | { readonly kind: 'restart'; readonly reason: string };

/**
 * What a compensation action receives: the output it undoes.
 *
 * @example
 * ```ts
 * .map('charge', { run: ({ input }) => pay(input.order), compensate: ({ output, error }) => refund(output, error.code) })
 * ```
 */
export interface CompensationContext<I = unknown, R = unknown> {
  readonly input: I;
  readonly output: R;
  readonly runId: string;
  readonly nodeId: string;
  /** The error that failed the run. */
  readonly error: SerializedError;
}
