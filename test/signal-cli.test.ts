// `llmo signal --brokers …` on the memory transport (the Kafka path with an injected transport): with --wait it
// prints the final result of the resumed run, or fails with the worker's refusal; without it, it only sends;
// --store and --brokers together are a usage error.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { signalCommand } from '../src/cli/commands/signal.ts';
import { EXIT } from '../src/cli/exit.ts';
import { createEngine, topology } from '../src/index.ts';
import { createMemoryStore } from '../src/stores/memory.ts';
import type { KafkaTransport } from '../src/transports/kafka/index.ts';
import { createMemoryTransport } from '../src/transports/index.ts';
import { createClient, createWorker } from '../src/worker/index.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

const review = topology('review', { input: z.object({ text: z.string() }) })
  .map('draft', { run: ({ input }) => input.text.toUpperCase() })
  .wait('approve', { after: ['draft'], name: 'approval', schema: z.object({ ok: z.boolean() }), timeoutMs: 86_400_000 })
  .map('publish', { after: ['draft', 'approve'], run: ({ deps }) => (deps.approve.ok ? deps.draft : 'rejected') })
  .build({ output: 'publish' });

describe('llmo signal --brokers', () => {
  it('--wait prints the final result; a refused payload exits 1 naming the field; without --wait it only sends', async () => {
    // the command closes its transport: this one outlives it, for the worker
    const transport: KafkaTransport = Object.assign(createMemoryTransport(), { ensureTopics: async () => undefined, close: async () => undefined });
    const engine = createEngine({ store: createMemoryStore(), topologies: [review] });
    const worker = createWorker({ engine, transport, topologies: [review], inbound: false, lingerMs: 0 });
    await worker.start();
    const client = createClient(transport);
    const open = () => ({ ok: true as const, transport });
    const flags = { brokers: '127.0.0.1:9092', wait: true, timeout: 10_000 };
    try {
      await client.submit('review', { text: 'a' }, { requestId: 'q1' });
      await client.submit('review', { text: 'b' }, { requestId: 'q2' });

      const bad = capture();
      expect(await signalCommand('q1', 'approval', [], { ...flags, payload: '{"ok":"yes"}' }, bad.io, open)).toBe(EXIT.runFailed);
      expect(bad.err()).toContain("signal 'approval' to run 'q1' refused: SIGNAL_INVALID");
      expect(bad.err()).toContain('payload.ok');

      const good = capture();
      expect(await signalCommand('q1', 'approval', [], { ...flags, payload: '{"ok":true}' }, good.io, open)).toBe(EXIT.ok);
      expect(JSON.parse(good.out())).toMatchObject({ requestId: 'q1', status: 'completed', output: 'A' });

      const final = client.result('q2', { final: true });
      const sent = capture();
      expect(await signalCommand('q2', 'approval', [], { brokers: '127.0.0.1:9092', payload: '{"ok":false}' }, sent.io, open)).toBe(EXIT.ok);
      expect(sent.err()).toMatch(/signal 'approval' \(\S+\) for run 'q2' sent to llmo\.signals/);
      expect(await final).toMatchObject({ status: 'completed', output: '"rejected"' });

      const both = capture();
      expect(await signalCommand('q2', 'approval', [], { brokers: '127.0.0.1:9092', store: 'runs.db' }, both.io, open)).toBe(EXIT.invalid);
      expect(both.err()).toContain('not both');
    } finally {
      await client.close();
      await worker.stop();
      await engine.shutdown();
    }
  });
});
