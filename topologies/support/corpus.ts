/**
 * A small in-repo document set for the demo topologies, so retrieval works with
 * no services. Scores are keyword overlaps: a stand-in for a vector index.
 * @module
 */

/** One retrievable document. */
export interface Doc {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

/** The demo corpus. */
export const CORPUS: readonly Doc[] = [
  { id: 'rx-1', title: 'Backpressure in stream stages', text: 'A stage admits new work only when a slot frees, so memory stays bounded by the in-flight limit rather than by how fast inputs arrive. Pull-based sources are read only when capacity frees up.' },
  { id: 'rx-2', title: 'mergeMap concurrency', text: 'The concurrency argument of mergeMap caps how many inner subscriptions run at once; excess values wait in a buffer, which admission control keeps small.' },
  { id: 'llm-1', title: 'Token streaming', text: 'LLM providers stream tokens over server-sent events. Downstream stages can act on partial output, for example a guard that stops the generation early.' },
  { id: 'llm-2', title: 'Rate limits', text: 'Providers enforce requests per minute and tokens per minute. Shared resource pools keep concurrent calls under the limit across all runs.' },
  { id: 'ops-1', title: 'Retries and circuit breakers', text: 'Transient failures such as 429 and 529 are retried with exponential backoff and jitter; a circuit breaker opens after repeated failures and a fallback model serves.' },
  { id: 'ops-2', title: 'Priorities and fairness', text: 'High priority work is served first when a slot frees, but aging guarantees that low priority work is never starved.' },
  { id: 'kafka-1', title: 'Scaling out with Kafka', text: 'Run requests, token streams and lifecycle events travel over Kafka topics, so the same topology runs across many workers in one consumer group.' },
  { id: 'dag-1', title: 'Routes and joins', text: 'A route node picks one branch; nodes on other branches are skipped, and the skip propagates so a later join fires with the parents that ran instead of hanging.' },
];

const words = (s: string): string[] => s.toLowerCase().match(/[a-z]{3,}/g) ?? [];

/**
 * Ranks the corpus by keyword overlap with the query.
 *
 * @example
 * ```ts
 * search('how does backpressure work', 3);
 * ```
 */
export function search(query: string, topK: number): Doc[] {
  const q = new Set(words(query));
  return CORPUS.map((d) => ({ d, score: words(`${d.title} ${d.text}`).filter((w) => q.has(w)).length }))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.d.id.localeCompare(b.d.id))
    .slice(0, topK)
    .map((x) => x.d);
}
