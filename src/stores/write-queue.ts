/**
 * The group-commit primitive both SQL stores use: one ordered queue of writes,
 * committed in batches through a function the store supplies.
 * @module
 */
import * as z from 'zod';
import { StoreError, ValidationError, toIssues } from '../errors.ts';

/**
 * Schema of {@link WriteQueueOptions} (the function fields are checked as functions).
 *
 * @example
 * ```ts
 * WriteQueueOptionsSchema.parse({ commit: () => undefined, maxBatch: 500 });
 * ```
 */
export const WriteQueueOptionsSchema = z.strictObject({
  commit: z.custom<(batch: readonly unknown[]) => void | Promise<void>>((v) => typeof v === 'function', 'expected a function'),
  maxBatch: z.number().int().positive().optional(),
  schedule: z.custom<(flush: () => void) => void>((v) => typeof v === 'function', 'expected a function').optional(),
  isolate: z.custom<(error: unknown) => boolean>((v) => typeof v === 'function', 'expected a function').optional(),
  what: z.string().optional(),
  concurrency: z.number().int().positive().optional(),
  keys: z.custom<(write: unknown) => Iterable<string>>((v) => typeof v === 'function', 'expected a function').optional(),
});

/**
 * How a {@link WriteQueue} commits.
 *
 * @example
 * ```ts
 * const options: WriteQueueOptions<Write> = { commit: (batch) => db.transaction(() => batch.forEach(apply)).immediate(), maxBatch: 1000 };
 * ```
 */
export interface WriteQueueOptions<W> {
  /**
   * Commits a batch as one unit (one transaction): all of it or nothing. It may be
   * synchronous (better-sqlite3) or return a promise (pg); throwing or rejecting means
   * nothing of the batch was written.
   */
  readonly commit: (batch: readonly W[]) => void | Promise<void>;
  /** Most writes per commit. Default 1000; the rest wait for the next commit. */
  readonly maxBatch?: number;
  /**
   * When to flush after the first write reaches an idle queue. Default `setImmediate`
   * (the next macrotask), so every write made in one tick commits in one batch.
   */
  readonly schedule?: (flush: () => void) => void;
  /**
   * Whether a failed batch of several writes is retried one write at a time, so each
   * write gets its own outcome. Default: always. Return false for failures no write
   * can escape (a server that went away), to fail the whole batch at once.
   */
  readonly isolate?: (error: unknown) => boolean;
  /** Names the store in the `STORE_CLOSED` message. Default `run store`. */
  readonly what?: string;
  /**
   * Most commits in flight at once. Default 1. Above 1, `keys` is required: a batch
   * never takes a write that shares a key with a batch in flight, nor anything queued
   * after such a write, so writes of one key (one run) commit in queue order. What is
   * queued is then shared among the free commits (at least 64 writes each, at most
   * `maxBatch`), so they overlap instead of one carrying everything.
   */
  readonly concurrency?: number;
  /** The keys (run ids) a write touches; required when `concurrency` is above 1. */
  readonly keys?: (write: W) => Iterable<string>;
}

/**
 * An ordered queue of writes committed in batches (group commit).
 *
 * - `push` queues a write; its promise settles when the batch holding it does.
 * - A flush takes everything queued (up to `maxBatch`) and commits it as one batch;
 *   writes pushed while a commit is in flight ride in the next batch.
 * - A failed batch of more than one write is re-run one write per commit, in order,
 *   so each write settles with its own outcome: one `SEQ_CONFLICT` never fails other
 *   runs' events. A write rejects only with its own commit's error.
 * - `close()` commits what is queued; later pushes reject with `STORE_CLOSED`.
 *
 * @example
 * ```ts
 * const queue = createWriteQueue<Write>({ commit: (batch) => writeAll(batch) });
 * await queue.push(write); // durable once this resolves
 * await queue.close();
 * ```
 */
export interface WriteQueue<W> {
  push(write: W): Promise<void>;
  /** Commits everything queued now; resolves once all of it has settled (never rejects). */
  flush(): Promise<void>;
  /** Refuses further writes, then flushes. */
  close(): Promise<void>;
  /** Writes queued or in a commit, not yet settled. */
  readonly pending: number;
  readonly closed: boolean;
}

/** The least writes a commit takes when what is queued is shared among several commits. */
const MIN_SPLIT = 64;

interface Entry<W> {
  readonly write: W;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Creates a {@link WriteQueue}.
 *
 * @example
 * ```ts
 * const queue = createWriteQueue<string>({ commit: (batch) => { lines.push(...batch); } });
 * await Promise.all([queue.push('a'), queue.push('b')]); // one commit of ['a', 'b']
 * ```
 */
export function createWriteQueue<W>(options: WriteQueueOptions<W>): WriteQueue<W> {
  const parsed = WriteQueueOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'createWriteQueue options are invalid', toIssues(parsed.error.issues, ['options']));
  const maxBatch = options.maxBatch ?? 1000;
  const schedule = options.schedule ?? ((f: () => void) => void setImmediate(f));
  const isolate = options.isolate ?? (() => true);
  const what = options.what ?? 'run store';
  const concurrency = options.concurrency ?? 1;
  const keysOf = options.keys;
  if (concurrency > 1 && keysOf === undefined) {
    throw new ValidationError('OPTIONS_INVALID', 'createWriteQueue options are invalid', [{ code: 'custom', path: ['options', 'keys'], message: 'required when concurrency is above 1' }]);
  }
  const queue: Entry<W>[] = [];
  /** Commits in flight, each settling once every write of its batch has settled. */
  const running = new Set<Promise<void>>();
  /** Keys of the writes in flight, with how many in-flight writes hold each. */
  const busy = new Map<string, number>();
  let inFlight = 0;
  let scheduled = false;
  let closed = false;

  const commitOne = async (entries: readonly Entry<W>[]): Promise<unknown> => {
    try {
      await options.commit(entries.map((e) => e.write));
      return undefined;
    } catch (e) {
      return e ?? new StoreError('STORE_FAILED', `${what}: a commit failed with no error`);
    }
  };

  const settle = async (batch: readonly Entry<W>[]): Promise<void> => {
    const error = await commitOne(batch);
    if (error === undefined) {
      for (const e of batch) e.resolve();
    } else if (batch.length === 1 || !isolate(error)) {
      for (const e of batch) e.reject(error);
    } else {
      for (const e of batch) {
        const own = await commitOne([e]);
        if (own === undefined) e.resolve();
        else e.reject(own);
        inFlight--;
      }
      return;
    }
    inFlight -= batch.length;
  };

  /** The next batch: the head of the queue up to `maxBatch`, stopping at the first write whose key is in flight. */
  const take = (): Entry<W>[] => {
    // With room for several commits, what is queued is shared among the free slots, so the
    // commits overlap (one's round trip with another's work) instead of one carrying it all.
    const limit = concurrency > 1 ? Math.min(maxBatch, Math.max(MIN_SPLIT, Math.ceil(queue.length / (concurrency - running.size)))) : maxBatch;
    if (keysOf === undefined || running.size === 0) return queue.splice(0, limit);
    let n = 0;
    while (n < queue.length && n < limit) {
      let free = true;
      for (const k of keysOf(queue[n]!.write)) if (busy.has(k)) free = false;
      if (!free) break;
      n++;
    }
    return queue.splice(0, n);
  };

  /** Starts commits while there is room and something to commit. */
  const pump = (): void => {
    while (running.size < concurrency && queue.length > 0) {
      const batch = take();
      if (batch.length === 0) return; // the head waits for a commit in flight on its key
      const keys: string[] = [];
      if (keysOf !== undefined && concurrency > 1) {
        for (const e of batch) for (const k of keysOf(e.write)) {
          keys.push(k);
          busy.set(k, (busy.get(k) ?? 0) + 1);
        }
      }
      inFlight += batch.length;
      const p: Promise<void> = settle(batch).finally(() => {
        for (const k of keys) {
          const c = busy.get(k)! - 1;
          if (c === 0) busy.delete(k);
          else busy.set(k, c);
        }
        running.delete(p);
        // Writes queued meanwhile (or held back by this batch's keys) go now.
        pump();
      });
      running.add(p);
    }
  };

  const kick = (): void => {
    if (scheduled || running.size >= concurrency) return;
    scheduled = true;
    schedule(() => {
      scheduled = false;
      pump();
    });
  };

  const flush = async (): Promise<void> => {
    while (queue.length > 0 || running.size > 0) {
      pump();
      await Promise.all(running);
    }
  };

  return {
    push(write) {
      if (closed) return Promise.reject(new StoreError('STORE_CLOSED', `${what} is closed`));
      return new Promise<void>((resolve, reject) => {
        queue.push({ write, resolve, reject });
        kick();
      });
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
    get pending() {
      return queue.length + inFlight;
    },
    get closed() {
      return closed;
    },
  };
}
