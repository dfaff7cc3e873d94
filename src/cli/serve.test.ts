// `llmo serve`: a fresh start creates and prints the first key, serves the API with it (a run of the
// demo topology on the simulated model, answered in full), refuses requests without it, keeps
// the keys file for the next start (no second first key), and stops cleanly on abort.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { serveCommand } from './commands/serve.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

const serve = async (keys: string) => {
  const c = capture();
  const stop = new AbortController();
  let base = '';
  const ready = new Promise<void>((resolve) => {
    void serveCommand(['topologies/rag.ts'], { port: 0, host: '127.0.0.1', keys }, c.io, stop.signal, (url) => { base = url; resolve(); })
      .then((code) => { exit = code; resolve(); });
  });
  let exit: number | undefined;
  await ready;
  return { c, stop: async () => { stop.abort(); while (exit === undefined) await new Promise((r) => setTimeout(r, 10)); return exit; }, base: () => base, exit: () => exit };
};

describe('llmo serve', () => {
  it('prints a first key on a fresh start, serves runs with it, 401 without it, and exits 0 when stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmo-serve-'));
    const keys = join(dir, 'keys.json');
    const s = await serve(keys);
    expect(s.exit(), s.c.err()).toBeUndefined();
    const key = s.c.out().trim();
    expect(key).toMatch(/^llmo_/);
    expect(s.c.err()).toContain(`${s.base()}/#key=`);
    expect((await fetch(`${s.base()}/v1/runs`)).status).toBe(401);
    const r = await fetch(`${s.base()}/v1/runs`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ topology: 'rag', input: { question: 'How does backpressure keep memory bounded?' }, wait: true }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'completed', topology: 'rag' });
    // the Prometheus scrape: the engine's metrics and the server's own
    const scrape = await (await fetch(`${s.base()}/metrics`)).text();
    expect(scrape).toMatch(/^llmo_runs_started(_total)?\{[^}]*\} 1/m);
    expect(scrape).toMatch(/^llmo_server_streams(_total)?\{[^}]*\} 0/m);
    expect(await s.stop()).toBe(0);

    const again = await serve(keys);
    expect(again.c.out()).toBe('');
    expect(again.c.err()).toContain('enter an API key');
    const listed = await fetch(`${again.base()}/v1/runs`, { headers: { authorization: `Bearer ${key}` } });
    expect(listed.status).toBe(200);
    expect(await again.stop()).toBe(0);
  }, 60_000);

  it('names a missing TLS half and a topology file that does not load', async () => {
    const a = capture();
    expect(await serveCommand(['topologies/rag.ts'], { port: 0, host: '127.0.0.1', tlsCert: 'x.pem' }, a.io)).toBe(2);
    expect(a.err()).toContain('--tls-key');
    const b = capture();
    expect(await serveCommand(['nope.ts'], { port: 0, host: '127.0.0.1' }, b.io)).not.toBe(0);
    expect(b.err()).toContain('nope.ts');
    const c = capture();
    expect(await serveCommand(['topologies/rag.ts'], { port: 0, host: '127.0.0.1', corsOrigin: ['https://ok.example', 'https://app.example/ui'] }, c.io)).toBe(2);
    expect(c.err()).toContain('--cors-origin');
    expect(c.err()).toContain('scheme://host');
  });
});
