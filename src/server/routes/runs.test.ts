import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHarness, type Harness, type KeyName } from '../../../test/support/server-harness.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('/v1/runs', () => {
  let h: Harness;
  afterEach(async () => { await h.close(); });

  const start = async (key: KeyName, body: Json): Promise<{ status: number; body: Json }> =>
    h.call(key, 'POST', '/v1/runs', body) as Promise<{ status: number; body: Json }>;
  const get = async (key: KeyName, url: string): Promise<{ status: number; body: Json }> =>
    h.call(key, 'GET', url) as Promise<{ status: number; body: Json }>;
  const ended = async (key: KeyName, runId: string): Promise<Json> => vi.waitFor(async () => {
    const r = await get(key, `/v1/runs/${runId}`);
    expect(['completed', 'failed', 'cancelled', 'waiting']).toContain(r.body['status']);
    return r.body;
  }, { timeout: 10_000, interval: 5 });

  it('starts a run and waits for it (200 with its outcome), then shows it with its nodes, input and duration', async () => {
    h = await createHarness();
    const r = await start('operator', { topology: 'echo', input: { text: 'hi' }, wait: true, runId: 'e-1', project: 'demo' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ runId: 'e-1', topology: 'echo', status: 'completed', output: 'HI!' });
    const v = await get('viewer', '/v1/runs/e-1');
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({
      runId: 'e-1', topology: 'echo', status: 'completed', input: { text: 'hi' }, output: 'HI!',
      nodes: { up: { status: 'completed', output: 'HI', starts: 1 }, out: { status: 'completed', output: 'HI!', starts: 1 } },
    });
    expect(v.body['version']).toMatch(/^v2:/);
    expect(v.body['durationMs']).toBeGreaterThanOrEqual(0);
    const rec = await h.engine.runs.get('e-1');
    expect(rec?.tenant).toBe('acme');
  });

  it('starts a run without waiting (202 with links), and the run is then found completed', async () => {
    h = await createHarness();
    const r = await start('operator', { topology: 'echo', input: { text: 'yo' } });
    expect(r.status).toBe(202);
    const runId = r.body['runId'] as string;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body).toEqual({ runId, status: 'running', links: { self: `/v1/runs/${runId}`, stream: `/v1/runs/${runId}/stream` } });
    // the 202 comes once the run is recorded: a GET right after it finds the run
    expect((await get('operator', `/v1/runs/${runId}`)).status).toBe(200);
    expect(await ended('operator', runId)).toMatchObject({ status: 'completed', output: 'YO!' });
  });

  it('answers 202 when a waited run does not end within waitTimeoutMs', async () => {
    h = await createHarness({ waitTimeoutMs: 20 });
    const r = await start('operator', { topology: 'slow', input: { n: 1 }, wait: true, runId: 's-1' });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ runId: 's-1', status: 'running' });
    h.gate.release();
    expect(await ended('operator', 's-1')).toMatchObject({ status: 'completed', output: 1 });
  });

  it('refuses input the topology\'s schema refuses (400 INPUT_INVALID naming the field), a taken id (409) and an unknown topology (404)', async () => {
    h = await createHarness();
    for (const wait of [true, false]) {
      const bad = await start('operator', { topology: 'echo', input: { text: 3 }, wait });
      expect(bad.status).toBe(400);
      expect(bad.body['error']).toMatchObject({ code: 'INPUT_INVALID', issues: [{ path: ['body', 'input', 'text'] }] });
    }
    expect((await start('operator', { topology: 'echo', input: { text: 'a' }, wait: true, runId: 'dup' })).status).toBe(200);
    const dup = await start('operator', { topology: 'echo', input: { text: 'a' }, runId: 'dup' });
    expect(dup).toMatchObject({ status: 409, body: { error: { code: 'RUN_EXISTS' } } });
    const unknown = await start('operator', { topology: 'nope', input: {} });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'TOPOLOGY_NOT_FOUND' } } });
  });

  it('lets a viewer read but not start (403); a key without a role on a topology gets 404 for it, as for an unknown one', async () => {
    h = await createHarness();
    const v = await start('viewer', { topology: 'echo', input: { text: 'a' } });
    expect(v).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const narrow = await start('narrow', { topology: 'secret', input: { text: 'a' } });
    expect(narrow.status).toBe(404);
    expect((await start('narrow', { topology: 'unheard-of', input: {} })).body['error']['code']).toBe('TOPOLOGY_NOT_FOUND');
    expect(narrow.body['error']).toEqual({ code: 'TOPOLOGY_NOT_FOUND', message: "no topology 'secret' is served here" });
    expect((await start('narrow', { topology: 'echo', input: { text: 'a' }, wait: true })).status).toBe(200);
  });

  it('lists the caller\'s runs newest first, by status and topology, a page at a time, never another tenant\'s or a topology the key cannot read', async () => {
    h = await createHarness();
    for (const id of ['l-1', 'l-2', 'l-3']) await start('operator', { topology: 'echo', input: { text: id }, wait: true, runId: id });
    await start('operator', { topology: 'secret', input: { text: 's' }, wait: true, runId: 'l-s' });
    await start('globex', { topology: 'echo', input: { text: 'g' }, wait: true, runId: 'g-1' });
    const all = await get('viewer', '/v1/runs');
    expect(all.body['runs'].map((r: Json) => r['runId'])).toEqual(['l-s', 'l-3', 'l-2', 'l-1']);
    expect(all.body['next']).toBeUndefined();

    const p1 = await get('viewer', '/v1/runs?topology=echo&limit=2');
    expect(p1.body['runs'].map((r: Json) => r['runId'])).toEqual(['l-3', 'l-2']);
    expect(typeof p1.body['next']).toBe('string');
    const p2 = await get('viewer', `/v1/runs?topology=echo&limit=2&cursor=${encodeURIComponent(p1.body['next'] as string)}`);
    expect(p2.body['runs'].map((r: Json) => r['runId'])).toEqual(['l-1']);

    expect((await get('viewer', '/v1/runs?status=failed,cancelled')).body).toEqual({ runs: [] });
    expect((await get('viewer', '/v1/runs?status=completed&topology=secret')).body['runs'].map((r: Json) => r['runId'])).toEqual(['l-s']);
    expect((await get('globex', '/v1/runs')).body['runs'].map((r: Json) => r['runId'])).toEqual(['g-1']);
    expect((await get('narrow', '/v1/runs')).body['runs'].map((r: Json) => r['runId'])).toEqual(['l-3', 'l-2', 'l-1']);
    expect((await get('narrow', '/v1/runs?topology=secret')).body).toEqual({ runs: [] });

    const bad = await get('viewer', '/v1/runs?status=done&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body['error']['code']).toBe('REQUEST_INVALID');
    expect(bad.body['error']['issues'].map((i: Json) => i['path'][1])).toEqual(expect.arrayContaining(['status', 'limit']));
  });

  it('shows a run\'s usage and duration in the list once ended', async () => {
    h = await createHarness();
    const r = await start('operator', { topology: 'chat', input: { q: 'What is a DAG? Explain it in a few words please.' }, wait: true, runId: 'c-1' });
    expect(r.body['status']).toBe('completed');
    const row = (await get('viewer', '/v1/runs')).body['runs'][0] as Json;
    expect(row).toMatchObject({ runId: 'c-1', status: 'completed', usage: { calls: 1 } });
    expect(row['usage']['outputTokens']).toBeGreaterThan(0);
    expect((await get('viewer', '/v1/runs/c-1')).body['usage']).toEqual(row['usage']);
  });

  it('answers another tenant\'s run exactly like an unknown id (404) on every run route', async () => {
    h = await createHarness();
    await start('globex', { topology: 'echo', input: { text: 'g' }, wait: true, runId: 'theirs' });
    const routes: [method: 'GET' | 'POST', suffix: string, body?: Json][] = [
      ['GET', ''], ['GET', '/events'], ['GET', '/state?seq=0'], ['POST', '/cancel'], ['POST', '/signals/approval', { payload: {} }], ['POST', '/fork', { from: 'out' }],
    ];
    for (const [method, suffix, body] of routes) {
      for (const id of ['theirs', 'never-was']) {
        const r = await h.call('admin', method, `/v1/runs/${id}${suffix}`, body);
        expect({ suffix, status: r.status, body: r.body }).toEqual({ suffix, status: 404, body: { error: { code: 'RUN_NOT_FOUND', message: `no run '${id}'` } } });
      }
    }
    // a key without a role on the run's topology: the same 404
    await start('operator', { topology: 'secret', input: { text: 's' }, wait: true, runId: 'hidden' });
    expect(await get('narrow', '/v1/runs/hidden')).toMatchObject({ status: 404, body: { error: { code: 'RUN_NOT_FOUND', message: "no run 'hidden'" } } });
    expect((await get('globex', '/v1/runs/theirs')).status).toBe(200);
  });

  it('serves a run\'s stored events (a window of them) and its state at any seq', async () => {
    h = await createHarness();
    await start('operator', { topology: 'echo', input: { text: 'x' }, wait: true, runId: 't-1' });
    const all = await get('viewer', '/v1/runs/t-1/events');
    const types = all.body['events'].map((e: Json) => `${e['type']}${e['nodeId'] === undefined ? '' : `:${e['nodeId']}`}`);
    expect(types).toEqual(['run.started', 'node.started:up', 'node.completed:up', 'node.started:out', 'node.completed:out', 'run.completed']);
    expect(all.body['events'].map((e: Json) => e['seq'])).toEqual([0, 1, 2, 3, 4, 5]);
    const win = await get('viewer', '/v1/runs/t-1/events?fromSeq=2&toSeq=3');
    expect(win.body['events'].map((e: Json) => e['seq'])).toEqual([2, 3]);

    expect((await get('viewer', '/v1/runs/t-1/state?seq=0')).body).toEqual({ seq: 0, status: 'running', nodes: {} });
    expect((await get('viewer', '/v1/runs/t-1/state?seq=2')).body).toEqual({ seq: 2, status: 'running', nodes: { up: { status: 'completed', output: 'X', starts: 1 } } });
    const last = await get('viewer', '/v1/runs/t-1/state');
    expect(last.body).toMatchObject({ seq: 5, status: 'completed', output: 'X!', nodes: { out: { status: 'completed', output: 'X!' } } });
    expect((await get('viewer', '/v1/runs/t-1/state?seq=99')).body['seq']).toBe(5);
    const bad = await get('viewer', '/v1/runs/t-1/state?seq=-1');
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'REQUEST_INVALID', issues: [{ path: ['querystring', 'seq'] }] } } });
  });

  it('cancels a run in flight (202, the run ends cancelled); a viewer may not (403); a run not in flight is 409', async () => {
    h = await createHarness();
    const r = await start('operator', { topology: 'slow', input: { n: 2 }, runId: 'slow-1' });
    expect(r.status).toBe(202);
    await h.gate.started;
    expect(await h.call('viewer', 'POST', '/v1/runs/slow-1/cancel')).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await h.call('operator', 'POST', '/v1/runs/slow-1/cancel')).toEqual(expect.objectContaining({ status: 202, body: { runId: 'slow-1', cancelled: true } }));
    expect(await ended('viewer', 'slow-1')).toMatchObject({ status: 'cancelled', nodes: { hold: { status: 'cancelled' } } });
    expect(await h.call('operator', 'POST', '/v1/runs/slow-1/cancel')).toMatchObject({ status: 409, body: { error: { code: 'RUN_NOT_CANCELLABLE' } } });
  });

  it('signals a run waiting on a wait node: bad payload 400 naming the field, wrong name 409, then it completes', async () => {
    h = await createHarness();
    const r = await start('operator', { topology: 'approval', input: { topic: 'rx' }, wait: true, runId: 'w-1' });
    expect(r).toMatchObject({ status: 200, body: { status: 'waiting' } });
    expect(await get('viewer', '/v1/runs/w-1')).toMatchObject({ body: { status: 'waiting', wait: { nodeId: 'approve', name: 'approval' } } });
    const bad = await h.call('operator', 'POST', '/v1/runs/w-1/signals/approval', { payload: { approved: 'yes' } });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'SIGNAL_INVALID', issues: [{ path: ['payload', 'approved'] }] } } });
    expect(await h.call('operator', 'POST', '/v1/runs/w-1/signals/other', { payload: {} })).toMatchObject({ status: 409, body: { error: { code: 'WAIT_NAME_MISMATCH' } } });
    expect(await h.call('viewer', 'POST', '/v1/runs/w-1/signals/approval', { payload: { approved: true } })).toMatchObject({ status: 403 });
    const ok = await h.call('operator', 'POST', '/v1/runs/w-1/signals/approval', { payload: { approved: true } });
    expect(ok).toMatchObject({ status: 202, body: { runId: 'w-1', signalled: 'approval' } });
    await vi.waitFor(async () => expect((await get('viewer', '/v1/runs/w-1')).body).toMatchObject({ status: 'completed', output: 'published: Draft about rx' }), { timeout: 10_000, interval: 5 });
    expect(await h.call('operator', 'POST', '/v1/runs/w-1/signals/approval', { payload: { approved: true } })).toMatchObject({ status: 409, body: { error: { code: 'RUN_NOT_WAITING' } } });
  });

  it('forks a run into a new one (its row names the parent); a node it lacks is 400, a taken id 409', async () => {
    h = await createHarness();
    await start('operator', { topology: 'echo', input: { text: 'p' }, wait: true, runId: 'parent' });
    const f = await h.call('operator', 'POST', '/v1/runs/parent/fork', { from: 'out', wait: true, runId: 'child', outputs: { up: 'PINNED' } });
    expect(f).toMatchObject({ status: 200, body: { runId: 'child', status: 'completed', output: 'PINNED!' } });
    expect((await get('viewer', '/v1/runs/child')).body).toMatchObject({ forkOf: { runId: 'parent', nodeId: 'out' }, status: 'completed' });
    const later = await h.call('operator', 'POST', '/v1/runs/parent/fork', { from: 'up', input: { text: 'q' } });
    expect(later.status).toBe(202);
    expect(await ended('viewer', (later.body as Json)['runId'] as string)).toMatchObject({ status: 'completed', output: 'Q!' });
    expect(await h.call('operator', 'POST', '/v1/runs/parent/fork', { from: 'nowhere' })).toMatchObject({ status: 400, body: { error: { code: 'FORK_INVALID', issues: [{ path: ['body', 'from'] }] } } });
    expect(await h.call('operator', 'POST', '/v1/runs/parent/fork', { from: 'out', runId: 'child' })).toMatchObject({ status: 409, body: { error: { code: 'RUN_EXISTS' } } });
    expect(await h.call('viewer', 'POST', '/v1/runs/parent/fork', { from: 'out' })).toMatchObject({ status: 403 });
  });
});
