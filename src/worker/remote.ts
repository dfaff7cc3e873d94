/**
 * Remote edges: a node marked `remote: 'group'` runs in another worker group.
 * The origin engine sends its inputs (run input and dependency outputs) as a
 * node task; a remote worker of that group executes the node with
 * `engine.runNode` and replies with a node result. The node's semantics do not
 * change: same deps, same output, failures fail the node, cancellation stops
 * waiting.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import { silentLogger, type Logger } from '../logger.ts';
import { CancelledError, OrchestratorError, serializeError, type SerializedError } from '../errors.ts';
import { abortReason, onAbort } from '../primitives/abort.ts';
import type { AnyTopology, Priority, RemoteExecutor, RemoteTask } from '../definition/types.ts';
import type { Engine } from '../runtime/engine.ts';
import type { NodeTaskMessage } from '../transports/messages.ts';
import type { Consumption, Transport } from '../transports/transport.ts';
import { remoteGroup } from './groups.ts';
import { traceHeaders, type TraceSource } from './trace-headers.ts';
import { traceContextOf, type TraceContext } from '../runtime/trace-context.ts';

/** An error that happened in a remote worker, rebuilt from its serialized form. */
class RemoteNodeError extends OrchestratorError {
  constructor(e: SerializedError) {
    super(e.code, `remote: ${e.message}`, { retriable: e.retriable });
  }
}

/**
 * Options of {@link createRemoteExecutor}.
 *
 * @example
 * ```ts
 * const options: RemoteExecutorOptions = { origin: 'api-1', telemetry };
 * ```
 */
export interface RemoteExecutorOptions {
  /** Id of this origin (default a random UUID). */
  readonly origin?: string;
  /** Telemetry attached to the origin engine: each node task carries its node span's W3C context, so the remote spans join the run's trace. */
  readonly telemetry?: TraceSource;
}

/**
 * Creates the origin side of remote edges: pass it to `createEngine({ remote })`.
 * It reads the node-result topic from now, and sends a task only once that
 * reader is positioned, so no reply is missed and no history is read. If
 * that read fails (e.g. no broker reachable), waiting and later tasks fail with
 * its error instead of the error going unhandled.
 *
 * @example
 * ```ts
 * const engine = createEngine({ remote: createRemoteExecutor(transport) });
 * ```
 */
export function createRemoteExecutor(transport: Transport, options: RemoteExecutorOptions = {}): RemoteExecutor & {
  /** Stops reading results and rejects every task still waiting with a CancelledError. */
  close(): void;
} {
  const origin = options.origin ?? randomUUID();
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  /** Why replies can no longer arrive (the result stream failed), once it did. */
  let broken: unknown;
  let positioned!: () => void;
  let unreadable!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => { positioned = res; unreadable = rej; });
  ready.catch(() => undefined); // observed by each task
  const sub: Subscription = transport.read('nodeResult', { fromBeginning: false, onReady: () => positioned() }).subscribe({
    next: (m) => {
      const r = m.value;
      const w = waiting.get(r.taskId);
      if (w === undefined) return;
      waiting.delete(r.taskId);
      if (r.ok) w.resolve(r.output === null ? undefined : JSON.parse(r.output));
      else w.reject(new RemoteNodeError(JSON.parse(r.error ?? '{}') as SerializedError));
    },
    // No reply can come any more: fail what waits and what comes (the error says whether a retry may help).
    error: (e: unknown) => {
      broken = e;
      unreadable(e);
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    },
  });
  return {
    execute(task: RemoteTask, signal: AbortSignal): Promise<unknown> {
      if (broken !== undefined) return Promise.reject(broken);
      const taskId = randomUUID();
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(abortReason(signal, () => new CancelledError('aborted')));
        const unlisten = onAbort(signal, () => {
          waiting.delete(taskId);
          reject(abortReason(signal, () => new CancelledError('aborted')));
        });
        const settle = { resolve: (v: unknown) => { unlisten(); resolve(v); }, reject: (e: unknown) => { unlisten(); reject(e); } };
        waiting.set(taskId, settle);
        const value: NodeTaskMessage = {
          taskId, runId: task.runId, topology: task.topology, group: task.group, nodeId: task.nodeId,
          input: JSON.stringify(task.input ?? null), deps: JSON.stringify(task.deps), priority: task.priority,
          deadline: task.deadline ?? null, origin,
        };
        const headers = traceHeaders(options.telemetry?.traceContext(task.runId, task.nodeId));
        ready.then(() => transport.send('nodeTask', [{ key: task.runId, value, ...(headers === undefined ? {} : { headers }) }])).catch((e: unknown) => {
          waiting.delete(taskId);
          settle.reject(e);
        });
      });
    },
    close() {
      sub.unsubscribe();
      for (const w of waiting.values()) w.reject(new CancelledError('remote executor closed'));
      waiting.clear();
    },
  };
}

/**
 * Options of {@link createRemoteWorker}.
 *
 * @example
 * ```ts
 * const options: RemoteWorkerOptions = { engine, transport, group: 'gpu', topologies: [pipeline], maxInFlight: 4 };
 * ```
 */
export interface RemoteWorkerOptions {
  readonly engine: Engine;
  readonly transport: Transport;
  /** The worker group named by the nodes' `remote`. */
  readonly group: string;
  /** Consumer group of the node tasks. Default `<prefix>-remote.<group>` (see `remoteGroup`). */
  readonly consumerGroup?: string;
  readonly topologies: readonly AnyTopology[];
  readonly maxInFlight?: number;
  readonly workerId?: string;
  readonly logger?: Logger;
}

/**
 * Creates a remote worker: executes the remote nodes of its group.
 *
 * @example
 * ```ts
 * const gpu = createRemoteWorker({ engine, transport, group: 'gpu', topologies: [pipeline] });
 * await gpu.start();
 * ```
 */
export function createRemoteWorker(options: RemoteWorkerOptions): {
  /** Starts consuming the group's node tasks. */
  start(): Promise<void>;
  /** Stops taking tasks and waits for those in flight. */
  stop(): Promise<void>;
  /** Tasks answered so far. */
  readonly handled: number;
} {
  const { engine, transport, group } = options;
  const id = options.workerId ?? randomUUID();
  const log = (options.logger ?? silentLogger).child({ component: 'remote-worker', group, worker: id });
  const byName = new Map(options.topologies.map((t) => [t.name, t]));
  let consumption: Consumption | undefined;
  let handled = 0;
  const reply = async (task: NodeTaskMessage, outcome: { ok: true; output: unknown } | { ok: false; error: SerializedError }, tc: TraceContext | undefined): Promise<void> => {
    const headers = traceHeaders(tc);
    await transport.send('nodeResult', [{
      key: task.runId,
      ...(headers === undefined ? {} : { headers }),
      value: {
        taskId: task.taskId, runId: task.runId, nodeId: task.nodeId, ok: outcome.ok, worker: id,
        output: outcome.ok ? JSON.stringify(outcome.output ?? null) : null,
        error: outcome.ok ? null : JSON.stringify(outcome.error),
      },
    }]);
    handled++;
  };
  return {
    get handled() { return handled; },
    async start() {
      consumption = await transport.consume('nodeTask', { group: options.consumerGroup ?? remoteGroup(transport.topics, group), maxInFlight: options.maxInFlight ?? 16 }, async (m) => {
        const task = m.value;
        if (task.group !== group) return; // another group's node
        const tc = traceContextOf(m.headers);
        const t = byName.get(task.topology);
        if (t === undefined) {
          return reply(task, { ok: false, error: { name: 'ValidationError', code: 'UNKNOWN_TOPOLOGY', message: `group '${group}' does not serve topology '${task.topology}'`, retriable: false } }, tc);
        }
        const r = await engine.runNode(t, task.nodeId, JSON.parse(task.input), JSON.parse(task.deps) as Record<string, unknown>, {
          priority: task.priority as Priority,
          ...(task.deadline === null ? {} : { deadline: task.deadline }),
          // the origin node's span parents the remote node's spans (one trace across the edge)
          ...(tc === undefined ? {} : { traceContext: tc }),
        });
        await reply(task, r.ok ? r : { ok: false, error: serializeError(r.error) }, tc);
      });
      log.info({ topologies: [...byName.keys()] }, 'remote worker started');
    },
    async stop() {
      await consumption?.stop();
    },
  };
}
