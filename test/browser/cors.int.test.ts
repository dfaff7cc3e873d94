/**
 * CORS in a real headless Chromium: a page on another origin (a second local server, another port)
 * calls the API with its key in `Authorization`, which makes the browser send a preflight first.
 * Allowed with `corsOrigins`; blocked by the browser for an origin not listed.
 *
 * Needs /usr/bin/chromium: skipped without it, except under CI=true, where it fails.
 */
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from './fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
const inCi = process.env['CI'] === 'true';

/** A page server on its own port (another origin than the API's): one blank page. */
async function pageServer(): Promise<{ origin: string; server: Server }> {
  const server = createHttpServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>app</title>'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(!have && !inCi)('CORS in headless Chromium', () => {
  let browser: Browser;
  let allowed: Served;
  let page: { origin: string; server: Server };
  let other: { origin: string; server: Server };

  beforeAll(async () => {
    if (!have) throw new Error(`CI=true and ${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
    page = await pageServer();
    other = await pageServer();
    allowed = await serve({ corsOrigins: [page.origin] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await allowed?.close();
    for (const p of [page, other]) await new Promise((resolve) => p?.server.close(resolve));
  });

  /** From a page of `origin`: start a run with the key, then list runs; what the page could read. */
  const fromPage = async (origin: string): Promise<unknown> => {
    const tab = await browser.newPage();
    try {
      await tab.goto(origin);
      return await tab.evaluate(async ({ api, key }) => {
        try {
          const start = await fetch(`${api}/v1/runs`, {
            method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ topology: 'brief', input: { question: 'does CORS work?' } }),
          });
          const list = await fetch(`${api}/v1/runs?limit=5`, { headers: { authorization: `Bearer ${key}` } });
          return { start: start.status, list: list.status, runs: ((await list.json()) as { runs: unknown[] }).runs.length };
        } catch (e) {
          return { blocked: String(e) };
        }
      }, { api: allowed.url, key: allowed.key });
    } finally {
      await tab.close();
    }
  };

  it('a page of an allowed origin starts and lists runs with its key (preflight and all)', async () => {
    expect(await fromPage(page.origin)).toEqual({ start: 202, list: 200, runs: 1 });
  }, 60_000);

  it('a page of another origin is blocked by the browser', async () => {
    expect(await fromPage(other.origin)).toEqual({ blocked: expect.stringContaining('Failed to fetch') });
  }, 60_000);
});
