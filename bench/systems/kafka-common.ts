/**
 * Pieces both Kafka systems use (W11): the tally that checks tokens read back,
 * and topic clean-up.
 * @module
 */
import { Kafka, logLevel } from 'kafkajs';

const WAIT_MS = 60_000;

/** The prompt of run `i` of round trip `round` (both systems ask the sim provider the same way). */
export const promptOf = (prefix: string, round: number, i: number): string => `${prefix} round ${round} run ${i}`;

/** Tokens read back from Kafka, per run (key): count, order and text. */
export class TokenTally {
  /** Tokens read so far, all runs. */
  total = 0;
  readonly #runs = new Map<string, { n: number; text: string }>();
  #waiter: { target: number; resolve: () => void; reject: (e: unknown) => void } | undefined;
  #error: unknown;

  /** One message: `tokens` of run `runId`, the first of them at `firstIndex` (when the message says). */
  add(runId: string, firstIndex: number | undefined, tokens: readonly string[]): void {
    let r = this.#runs.get(runId);
    if (r === undefined) this.#runs.set(runId, (r = { n: 0, text: '' }));
    if (firstIndex !== undefined && firstIndex !== r.n) {
      this.fail(new Error(`run ${runId}: a batch starting at token ${firstIndex} arrived when ${r.n} tokens had`));
      return;
    }
    r.n += tokens.length;
    r.text += tokens.length === 1 ? tokens[0]! : tokens.join('');
    this.total += tokens.length;
    const w = this.#waiter;
    if (w !== undefined && this.total >= w.target) {
      this.#waiter = undefined;
      w.resolve();
    }
  }

  fail(e: unknown): void {
    this.#error ??= e;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(e);
  }

  /** Resolves once `target` tokens (all runs) were read. */
  until(target: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.total >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`${this.total}/${target} tokens read back after ${WAIT_MS / 1000} s`));
      }, WAIT_MS);
      this.#waiter = {
        target,
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }

  /** Throws unless every run in `expected` (run key → full text) arrived whole, in order. */
  check(expected: ReadonlyMap<string, string>, tokensPerRun: number): void {
    if (this.#error !== undefined) throw this.#error;
    for (const [key, text] of expected) {
      const r = this.#runs.get(key);
      if (r === undefined) throw new Error(`no tokens of run ${key} read back`);
      if (r.n !== tokensPerRun) throw new Error(`run ${key}: ${r.n} tokens read back, expected ${tokensPerRun}`);
      if (r.text !== text) throw new Error(`run ${key}: the text read back differs from the text produced`);
    }
  }
}

/** Deletes every topic under `prefix` (best effort, at most ~10 s). */
export async function deleteTopics(brokers: readonly string[], prefix: string): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-cleanup', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  const work = (async () => {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, 10_000); })]);
  } catch {
    // best effort
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}
