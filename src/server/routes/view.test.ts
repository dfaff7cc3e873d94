import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topology } from '../../builder/builder.ts';
import { createEngine } from '../../runtime/engine.ts';
import { createMemoryStore } from '../../stores/memory.ts';
import { createLocalBackend } from '../backend.ts';
import { createMemoryKeyStore } from '../keys/memory.ts';
import { createServer, type LlmoServer } from '../server.ts';
import { bareImports, loadViewAssets, VIEW_CSP } from './view.ts';

const echo = topology('echo', { input: z.object({ text: z.string() }) })
  .map('out', { run: ({ input }) => input.text })
  .build({ output: 'out' });

describe('the live view routes', () => {
  let server: LlmoServer;
  beforeAll(async () => {
    const engine = createEngine({ store: createMemoryStore() });
    server = await createServer({ backend: createLocalBackend(engine, [echo]), runs: engine.runs, keys: createMemoryKeyStore() }, { port: 0 });
  });
  afterAll(() => server.close());
  const get = (url: string, headers: Record<string, string> = {}) => server.app.inject({ method: 'GET', url, headers });

  it('serves the page at / without a key, as HTML, with a strict content security policy, revalidated by ETag', async () => {
    const r = await get('/');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(VIEW_CSP);
    expect(VIEW_CSP).toContain("default-src 'none'");
    expect(VIEW_CSP).toContain("script-src 'self'");
    expect(VIEW_CSP).not.toContain('unsafe');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.body).toContain('<script type="module" src="/assets/app.js">');
    expect(r.body).toContain('<main');
    const again = await get('/', { 'if-none-match': String(r.headers.etag) });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('serves the scripts and styles the page loads, dagre and eventsource-parser from their installed builds', async () => {
    for (const [file, type] of [['app.js', 'text/javascript'], ['api.js', 'text/javascript'], ['graph.js', 'text/javascript'], ['style.css', 'text/css'], ['dagre.js', 'text/javascript'], ['eventsource-parser.js', 'text/javascript']] as const) {
      const r = await get(`/assets/${file}`);
      expect(r.statusCode, file).toBe(200);
      expect(r.headers['content-type'], file).toBe(`${type}; charset=utf-8`);
      expect(r.headers['content-security-policy'], file).toBe(VIEW_CSP);
      if (type === 'text/javascript') expect(bareImports(r.body), file).toEqual([]);
    }
    expect((await get('/assets/dagre.js')).body).toMatch(/export\s*\{[^}]*\bas default\b/);
    expect((await get('/assets/eventsource-parser.js')).body).toContain('createParser');
  });

  it('answers 404 with an error body for any other asset, and keeps the pages out of the API document', async () => {
    for (const url of ['/assets/nope.js', '/assets/..%2Fview.ts', '/assets/index.html']) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(404);
      expect(r.json(), url).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    const doc = await get('/openapi.json');
    if (doc.statusCode === 200) {
      const paths = Object.keys((doc.json() as { paths: Record<string, unknown> }).paths);
      expect(paths).not.toContain('/');
      expect(paths.some((p) => p.startsWith('/assets'))).toBe(false);
    }
  });
});

describe('loadViewAssets and bareImports', () => {
  it('names the missing page', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-view-'));
    expect(() => loadViewAssets(dir)).toThrow(expect.objectContaining({ code: 'VIEW_ASSET_MISSING', message: expect.stringContaining(join(dir, 'index.html')) }));
  });

  it('reads the page and its .js and .css files from a folder, nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-view-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'a.js'), 'export const a = 1;');
    writeFileSync(join(dir, 'b.css'), 'p{}');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    const v = loadViewAssets(dir);
    expect(v.page.body.toString()).toBe('<!doctype html>');
    expect([...v.assets.keys()].sort()).toEqual(['a.js', 'b.css', 'dagre.js', 'eventsource-parser.js']);
    expect(v.assets.get('a.js')!.etag).toMatch(/^"[\w-]+"$/);
  });

  it('finds imports by package name, not relative or absolute ones', () => {
    expect(bareImports('import { a } from "lodash"; import "./b.js"; export * from "../c.js"; import x from \'/assets/d.js\';')).toEqual(['lodash']);
    expect(bareImports('const m = await import("@dagrejs/graphlib"); export{T as Graph};')).toEqual(['@dagrejs/graphlib']);
    expect(bareImports('var important="from"; const s = "import me";')).toEqual([]);
  });
});
