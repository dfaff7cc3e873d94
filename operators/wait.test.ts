import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../src/builder/builder.ts';
import { createEngine } from '../src/runtime/engine.ts';
import { topologyVersion } from '../src/runtime/version.ts';
import { wait } from './wait.ts';

describe('wait', () => {
  it('builds a wait node: kind wait, its request on the node, no executor timeout (the wait timeout outlives the process)', () => {
    const schema = z.object({ ok: z.boolean() });
    const n = wait('approve', { after: ['draft'], name: 'approval', schema, timeoutMs: 5_000, onError: 'escalate' });
    expect(n).toMatchObject({ id: 'approve', kind: 'wait', after: ['draft'], onError: 'escalate', wait: { name: 'approval', schema, timeoutMs: 5_000 } });
    expect(n.timeoutMs).toBeUndefined();
  });

  it("a different timeout or name is a different topology version", () => {
    const make = (name: string, timeoutMs: number) => topology('t').wait('w', { name, schema: z.string(), timeoutMs }).build();
    expect(topologyVersion(make('a', 1))).toBe(topologyVersion(make('a', 1)));
    expect(topologyVersion(make('a', 1))).not.toBe(topologyVersion(make('a', 2)));
    expect(topologyVersion(make('a', 1))).not.toBe(topologyVersion(make('b', 1)));
  });

  it('outputs the validated (and transformed) payload; cancelling the run ends the wait', async () => {
    const engine = createEngine();
    const t = topology('t').wait('n', { name: 'num', schema: z.string().transform(Number) }).build({ output: 'n' });
    const p = engine.run(t, undefined, { runId: 'w' });
    await new Promise((r) => setImmediate(r));
    await engine.signal('w', 'num', '42');
    expect((await p).output).toBe(42);
    const ctl = new AbortController();
    const q = engine.run(t, undefined, { runId: 'c', signal: ctl.signal });
    await new Promise((r) => setImmediate(r));
    ctl.abort();
    expect((await q).status).toBe('cancelled');
    await expect(engine.signal('c', 'num', '1')).rejects.toMatchObject({ code: 'RUN_NOT_WAITING' });
    await engine.shutdown();
  });
});
