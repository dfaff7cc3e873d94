/**
 * A client of a worker group: submits run requests and resolves each with its
 * result (duplicates from redelivery are dropped by request id).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import type { Priority } from '../definition/types.ts';
import type { RunResultMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

/** Options of one submitted run. */
export interface SubmitOptions {
  readonly priority?: Priority;
  readonly tenant?: string;
  readonly deadlineMs?: number;
  readonly requestId?: string;
}

/** A client. */
export interface Client {
  /** Sends a request; resolves with its first result. */
  submit(topology: string, input: unknown, options?: SubmitOptions): Promise<RunResultMessage>;
  /** Sends many requests at once (one batch); resolves their ids. */
  submitMany(topology: string, inputs: readonly unknown[], options?: Omit<SubmitOptions, 'requestId'>): Promise<string[]>;
  /** Results seen so far, by request id (first one wins). */
  readonly results: ReadonlyMap<string, RunResultMessage>;
  /** Results that arrived again for a request already answered (redelivery). */
  readonly duplicates: number;
  /**
   * Why the result stream ended (e.g. no broker reachable), once it has; then every pending and
   * later `submit` rejects with it. Undefined while results can still arrive.
   */
  readonly failure: unknown;
  /** Stops reading results; pending submits stay pending. */
  close(): Promise<void>;
}

/**
 * Creates a client. It reads the result topic from its beginning, so no result
 * is missed whatever the timing; it keeps the first result per request id.
 *
 * @example
 * ```ts
 * const client = createClient(transport);
 * const result = await client.submit('rag', { question: 'Why?' });
 * ```
 */
export function createClient(transport: Transport): Client {
  const results = new Map<string, RunResultMessage>();
  const waiting = new Map<string, { resolve: (r: RunResultMessage) => void; reject: (e: unknown) => void }>();
  let duplicates = 0;
  let failure: { readonly error: unknown } | undefined;
  // With an error handler: a failing result stream rejects the waiting submits instead of
  // reaching RxJS's reportUnhandledError (an uncaught exception that kills the process).
  const sub: Subscription = transport.read('result', { fromBeginning: true }).subscribe({
    next: (m) => {
      const r = m.value;
      if (results.has(r.requestId)) {
        duplicates++;
        return;
      }
      results.set(r.requestId, r);
      waiting.get(r.requestId)?.resolve(r);
      waiting.delete(r.requestId);
    },
    error: (e: unknown) => {
      failure = { error: e };
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    },
  });
  const request = (topology: string, input: unknown, o: SubmitOptions, requestId: string) => ({
    key: requestId,
    value: {
      requestId, topology, input: JSON.stringify(input ?? null), priority: o.priority ?? 'normal',
      tenant: o.tenant ?? null, deadlineMs: o.deadlineMs ?? null, createdAt: Date.now(),
    },
  });
  return {
    results,
    get duplicates() { return duplicates; },
    get failure() { return failure?.error; },
    async submit(topology, input, options = {}) {
      const requestId = options.requestId ?? randomUUID();
      const done = new Promise<RunResultMessage>((resolve, reject) => {
        const seen = results.get(requestId);
        if (seen) resolve(seen);
        else if (failure !== undefined) reject(failure.error);
        else waiting.set(requestId, { resolve, reject });
      });
      done.catch(() => undefined); // observed below; never an unhandled rejection if send fails first
      try {
        await transport.send('request', [request(topology, input, options, requestId)]);
      } catch (e) {
        waiting.delete(requestId);
        throw e;
      }
      return done;
    },
    async submitMany(topology, inputs, options = {}) {
      const reqs = inputs.map((input) => request(topology, input, options, randomUUID()));
      for (let i = 0; i < reqs.length; i += 500) await transport.send('request', reqs.slice(i, i + 500));
      return reqs.map((r) => r.key);
    },
    async close() {
      sub.unsubscribe();
    },
  };
}
