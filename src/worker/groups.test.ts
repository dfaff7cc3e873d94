import { describe, expect, it } from 'vitest';
import { topicNames } from '../transports/transport.ts';
import { remoteGroup, topicPrefix, workerGroup } from './groups.ts';

describe('default groups', () => {
  it('follow the topic prefix and the sorted topologies served', () => {
    expect(topicPrefix(topicNames('prod'))).toBe('prod');
    expect(topicPrefix(topicNames())).toBe('llmo');
    expect(workerGroup(topicNames('a'), ['rag', 'chat', 'rag'])).toBe('a-workers.chat+rag');
    expect(workerGroup(topicNames('a'), ['rag'])).not.toBe(workerGroup(topicNames('b'), ['rag']));
    expect(workerGroup(topicNames('a'), ['rag'])).not.toBe(workerGroup(topicNames('a'), ['chat']));
    expect(remoteGroup(topicNames('a'), 'gpu')).toBe('a-remote.gpu');
  });

  it('hashes very long topology lists (stable, bounded)', () => {
    const many = Array.from({ length: 50 }, (_, i) => `topology-number-${i}`);
    const g = workerGroup(topicNames('p'), many);
    expect(g.length).toBeLessThanOrEqual(200);
    expect(g).toBe(workerGroup(topicNames('p'), [...many].reverse()));
  });
});
