/**
 * Default consumer group names, derived from the transport's topic prefix so
 * deployments on different prefixes never share a group (kafkajs assigns a
 * group's partitions across all its members' topics: two prefixes in one group
 * steal each other's partitions), and, for request workers, from the topologies
 * served, so each deployment gets its own group and sees every request.
 * @module
 */
import { createHash } from 'node:crypto';
import type { TopicNames } from '../transports/transport.ts';

const REQUEST_SUFFIX = '.run-requests';

/**
 * The prefix the topic names were made with (`topicNames(prefix)`); the request topic's name when it has another shape.
 *
 * @example
 * ```ts
 * topicPrefix(topicNames('prod')); // 'prod'
 * ```
 */
export function topicPrefix(topics: TopicNames): string {
  return topics.request.endsWith(REQUEST_SUFFIX) ? topics.request.slice(0, -REQUEST_SUFFIX.length) : topics.request;
}

/**
 * Default group of request workers: `<prefix>-workers.<sorted topology names joined by +>`
 * (names hashed when that gets longer than 200 characters).
 *
 * @example
 * ```ts
 * workerGroup(topicNames('prod'), ['rag', 'chat']); // 'prod-workers.chat+rag'
 * ```
 */
export function workerGroup(topics: TopicNames, topologies: readonly string[]): string {
  const names = [...new Set(topologies)].sort().join('+');
  const base = `${topicPrefix(topics)}-workers`;
  const group = `${base}.${names}`;
  return group.length <= 200 ? group : `${base}.${createHash('sha256').update(names).digest('hex').slice(0, 32)}`;
}

/**
 * Default group of the remote workers of a worker group `group`: `<prefix>-remote.<group>`.
 *
 * @example
 * ```ts
 * remoteGroup(topicNames('prod'), 'gpu'); // 'prod-remote.gpu'
 * ```
 */
export function remoteGroup(topics: TopicNames, group: string): string {
  return `${topicPrefix(topics)}-remote.${group}`;
}
