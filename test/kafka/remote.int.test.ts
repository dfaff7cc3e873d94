// Remote edges over a real broker: the origin engine sends a node's inputs on the node-task topic,
// a remote worker group executes it and replies on the node-result topic.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../../src/index.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { createRemoteExecutor, createRemoteWorker } from '../../src/worker/index.ts';
import { deleteTopics, rawKafka, uniquePrefix, waitFor } from './support.ts';

const brokers = inject('kafkaBrokers');
const prefix = uniquePrefix('remote');

const pipeline = topology('kafka-remote', { input: z.object({ text: z.string() }) })
  .map('clean', { run: ({ input }) => input.text.trim() })
  .map('embed', { after: ['clean'], remote: 'gpu', run: ({ deps }) => ({ vector: [...deps.clean].map((ch) => ch.charCodeAt(0) % 7) }) })
  .map('score', { after: ['embed'], run: ({ deps }) => deps.embed.vector.reduce((a, b) => a + b, 0) })
  .build({ output: 'score' });

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await deleteTopics(rawKafka(brokers), prefix);
});

describe.skipIf(brokers === '')('remote edges over Kafka', () => {
  it('runs the remote node in its worker group, with the same output as a local run', async () => {
    const originTransport = createKafkaTransport({ brokers: brokers.split(','), prefix, partitions: 3, clientId: 'origin' });
    const gpuTransport = createKafkaTransport({ brokers: brokers.split(','), prefix, partitions: 3, clientId: 'gpu' });
    const remote = createRemoteExecutor(originTransport);
    const origin = createEngine({ remote });
    const gpuEngine = createEngine();
    const gpu = createRemoteWorker({ engine: gpuEngine, transport: gpuTransport, group: 'gpu', topologies: [pipeline], maxInFlight: 4 });
    cleanups.push(() => remote.close(), () => gpu.stop(), () => originTransport.close(), () => gpuTransport.close());
    await gpu.start();

    const inputs = Array.from({ length: 20 }, (_, i) => ({ text: ` item ${i} ` }));
    const results = await Promise.all(inputs.map((input) => origin.run(pipeline, input)));
    const local = createEngine({ remote: { execute: (task) => createEngine().runNode(pipeline, task.nodeId, task.input, task.deps).then((r) => (r.ok ? r.output : Promise.reject(r.error))) } });
    const expected = await Promise.all(inputs.map((input) => local.run(pipeline, input)));
    expect(results.map((r) => r.status)).toEqual(inputs.map(() => 'completed'));
    expect(results.map((r) => r.output)).toEqual(expected.map((r) => r.output));
    await waitFor(() => gpu.handled === 20, 'the remote worker to count its replies');
  });
});
