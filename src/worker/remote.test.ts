// Unit tests of the origin side of remote edges over a fake transport (no engine): replies settle their
// tasks, an abort stops waiting, and a failed result stream fails the tasks instead of going unhandled.
import { getEventListeners } from 'node:events';
import { Subject, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../errors.ts';
import type { RemoteTask } from '../definition/types.ts';
import type { Envelope, Transport } from '../transports/transport.ts';
import type { NodeResultMessage, NodeTaskMessage } from '../transports/messages.ts';
import { createRemoteExecutor } from './remote.ts';

function fakeTransport() {
  const results = new Subject<Envelope<NodeResultMessage>>();
  const sent: NodeTaskMessage[] = [];
  const transport = {
    kind: 'memory',
    send: async (_kind: string, messages: readonly { value: NodeTaskMessage }[]) => { sent.push(...messages.map((m) => m.value)); },
    read: (_kind: string, o: { onReady?: () => void }) => { o.onReady?.(); return results as Observable<unknown>; },
  } as unknown as Transport;
  const reply = (r: Partial<NodeResultMessage> & { taskId: string }): void =>
    results.next({ key: 'k', partition: 0, offset: '0', value: { runId: 'r', nodeId: 'n', ok: true, output: null, error: null, worker: 'w', ...r } });
  return { transport, results, sent, reply };
}

const task: RemoteTask = { runId: 'run-1', topology: 't', group: 'gpu', nodeId: 'n', input: { q: 1 }, deps: {}, priority: 'normal' } as RemoteTask;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('createRemoteExecutor', () => {
  it('a reply settles its task and leaves no abort listener behind', async () => {
    const f = fakeTransport();
    const remote = createRemoteExecutor(f.transport);
    const ctl = new AbortController();
    const p = remote.execute(task, ctl.signal);
    await tick();
    expect(f.sent).toHaveLength(1);
    f.reply({ taskId: f.sent[0]!.taskId, output: '"done"' });
    expect(await p).toBe('done');
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
    remote.close();
  });

  it('an abort rejects with its reason; an already aborted signal sends nothing', async () => {
    const f = fakeTransport();
    const remote = createRemoteExecutor(f.transport);
    const ctl = new AbortController();
    const p = remote.execute(task, ctl.signal);
    const reason = new Error('cancelled');
    ctl.abort(reason);
    await expect(p).rejects.toBe(reason);
    await expect(remote.execute(task, ctl.signal)).rejects.toBe(reason);
    await tick();
    expect(f.sent).toHaveLength(1);
    remote.close();
  });

  it('a failed result stream fails waiting and later tasks with its error', async () => {
    const f = fakeTransport();
    const remote = createRemoteExecutor(f.transport);
    const waiting = remote.execute(task, new AbortController().signal);
    const failure = new OrchestratorError('KAFKA_UNREACHABLE', 'reading x.node-results: no Kafka broker reachable', { retriable: true });
    f.results.error(failure);
    await expect(waiting).rejects.toBe(failure);
    await expect(remote.execute(task, new AbortController().signal)).rejects.toBe(failure);
    remote.close();
  });
});
