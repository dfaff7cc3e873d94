/**
 * The live view in a real headless Chromium (Debian's, driven by playwright-core): load the page,
 * enter a key, pick a topology, start runs, see nodes change state and tokens stream into the llm
 * node, open the run page and move the time-travel slider. Screenshots go to
 * test-artifacts/browser/; with LLMO_UPDATE_SCREENSHOT=1 the mid-run one also replaces
 * docs/live-view.png (the README's).
 *
 * Needs /usr/bin/chromium: skipped without it, except under CI=true, where it fails.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { serve, type Served } from './fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
const inCi = process.env['CI'] === 'true';
const artifacts = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url));
const docsShot = fileURLToPath(new URL('../../docs/live-view.png', import.meta.url));

describe.skipIf(!have && !inCi)(`the live view in headless Chromium${have ? '' : ` (${CHROMIUM} is missing: apt-get install chromium)`}`, () => {
  let browser: Browser;
  let served: Served;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!have) throw new Error(`CI=true and ${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
    mkdirSync(artifacts, { recursive: true });
    served = await serve();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page.setDefaultTimeout(20_000);
    // The wrong key's 401 is expected (the browser logs every failed request); anything else is a fault.
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  });

  // A failing step leaves a picture of the page as it was.
  beforeEach((t) => {
    onTestFailed(async () => {
      await page?.screenshot({ path: `${artifacts}failed-${t.task.name.slice(0, 40).replace(/\W+/g, '-')}.png` }).catch(() => undefined);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  /** Conditions are polled until they hold (or the test's time is up): nothing waits a fixed time. */
  const poll = { timeout: 20_000, interval: 25 };
  const text = async (selector: string) => (await page.textContent(selector)) ?? '';
  const shot = (name: string) => page.screenshot({ path: `${artifacts}${name}.png` });
  const node = (graph: string, id: string, status: string) => page.waitForSelector(`#${graph} g.node[data-node="${id}"][data-status="${status}"]`);

  it('serves the page with a strict content security policy; a wrong key is named, a right one shows the tenant', async () => {
    const res = await page.goto(served.url);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.fill('#api-key', 'llmo_not-a-key');
    await page.click('#key-form button[type="submit"]');
    await expect.poll(() => text('#who'), poll).toContain('unknown or revoked');
    await page.fill('#api-key', served.key);
    await page.click('#key-form button[type="submit"]');
    await expect.poll(() => text('#who'), poll).toContain('Tenant acme');
    await page.waitForSelector('#topology option[value="brief"]', { state: 'attached' });
  });

  it('takes the key from the #key= link llmo serve prints, and drops it from the address bar', async () => {
    const fresh = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await fresh.goto(`${served.url}/#key=${served.key}`);
      await expect.poll(async () => (await fresh.textContent('#who')) ?? '', poll).toContain('Tenant acme');
      expect(fresh.url()).not.toContain('#key=');
      expect(fresh.url()).not.toContain(served.key);
    } finally {
      await fresh.close();
    }
  });

  it('draws the picked topology with dagre: a box per node, a path per edge', async () => {
    await page.selectOption('#topology', 'brief');
    await page.waitForSelector('#graph svg g.node[data-node="redo"]');
    expect(await page.locator('#graph g.node').count()).toBe(5);
    expect(await page.locator('#graph path.edge').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('#graph g.node[data-status="pending"]').count()).toBe(5);
    // laid out left to right: plan before draft before polish
    const x = async (id: string) => (await page.locator(`#graph g.node[data-node="${id}"]`).boundingBox())!.x;
    expect(await x('plan')).toBeLessThan(await x('draft'));
    expect(await x('draft')).toBeLessThan(await x('polish'));
    await shot('1-topology');
  });

  it('starts a run: nodes light up as it moves, tokens stream into the llm node, the runs table shows it ended', async () => {
    await page.fill('#run-input', '{"question":"Why does backpressure matter?"}');
    await page.click('#run-button');
    await node('graph', 'plan', 'completed');
    await node('graph', 'draft', 'running');
    expect(await page.getAttribute('#graph g.node[data-node="polish"]', 'data-status')).toBe('pending');
    served.gate.call(0).emit('Backpressure ');
    await expect.poll(() => text('pre[data-tokens="draft"]'), poll).toBe('Backpressure ');
    served.gate.call(0).emit('keeps memory bounded.');
    await expect.poll(() => text('pre[data-tokens="draft"]'), poll).toBe('Backpressure keeps memory bounded.');
    await shot('2-streaming');
    expect(await page.getAttribute('#graph g.node[data-node="draft"]', 'data-status')).toBe('running');
    served.gate.call(0).finish();
    await node('graph', 'draft', 'completed');
    await node('graph', 'polish', 'completed');
    await node('graph', 'redo', 'skipped');
    await expect.poll(() => text('#run-status'), poll).toContain('completed');
    const row = page.locator('#runs tbody tr[data-status="completed"]');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    const cells = await row.first().locator('td').allTextContents();
    expect(cells[1]).toBe('brief');
    expect(cells[5]).toBe('12 in / 5 out');
    expect(cells[6]).toMatch(/^\$0\.000\d+$/);
    await shot('3-completed');
  });

  it('a second run, mid-stream, is the README screenshot', async () => {
    await page.click('#run-button');
    await node('graph', 'draft', 'running');
    await expect.poll(() => text('pre[data-tokens="draft"]'), poll).toBe('');
    served.gate.call(1).emit('Backpressure lets a slow consumer ');
    served.gate.call(1).emit('pace a fast producer, so memory stays ');
    await expect.poll(() => text('pre[data-tokens="draft"]'), poll).toBe('Backpressure lets a slow consumer pace a fast producer, so memory stays ');
    await page.waitForSelector('#runs tbody tr[data-status="running"]');
    await shot('4-mid-run');
    if (process.env['LLMO_UPDATE_SCREENSHOT'] === '1') copyFileSync(`${artifacts}4-mid-run.png`, docsShot);
    served.gate.call(1).emit('bounded.');
    served.gate.call(1).finish({ inputTokens: 14, outputTokens: 16 });
    await node('graph', 'polish', 'completed');
    await expect.poll(() => page.locator('#runs tbody tr[data-status="completed"]').count(), poll).toBe(2);
  });

  it('opens the run page: its timeline, and a slider that recolours the graph as the run was', async () => {
    const firstRun = page.locator('#runs tbody tr[data-status="completed"]').last();
    await firstRun.locator('a').click();
    await page.waitForSelector('#run-page:not([hidden]) #run-graph g.node[data-node="draft"][data-status="completed"]');
    expect(await page.isHidden('#home')).toBe(true);
    const events = await page.locator('#timeline li').count();
    expect(events).toBeGreaterThanOrEqual(8);
    expect(await page.getAttribute('#seq', 'max')).toBe(String(events - 1));
    expect(await text('#run-nodes pre[data-tokens="draft"]')).toBe('Backpressure keeps memory bounded.');
    await shot('5-run-page');

    // Home: after event 0 (run.started) no node has started
    await page.focus('#seq');
    await page.keyboard.press('Home');
    await expect.poll(() => text('#seq-status'), poll).toMatch(/^After event 0\b/);
    expect(await page.locator('#run-graph g.node[data-status="pending"]').count()).toBe(5);

    // the event where the draft started: plan done, draft running, the rest not started
    const started = await page.getAttribute('#timeline li[data-type="node.started"][data-node="draft"]', 'data-seq');
    await page.fill('#seq', started!);
    await node('run-graph', 'draft', 'running');
    await node('run-graph', 'plan', 'completed');
    expect(await page.getAttribute('#run-graph g.node[data-node="polish"]', 'data-status')).toBe('pending');
    expect(await text('#run-nodes pre[data-tokens="draft"]')).toBe('');
    expect(await page.getAttribute('#timeline li[aria-current]', 'data-seq')).toBe(started);
    await shot('6-time-travel');

    // End: the final state again
    await page.keyboard.press('End');
    await node('run-graph', 'draft', 'completed');
    await node('run-graph', 'redo', 'skipped');
    await expect.poll(() => text('#seq-status'), poll).toMatch(/run completed$/);
  });

  it('is labelled and works from the keyboard: landmarks, a label for every control, live regions, focusable nodes', async () => {
    await page.click('text=← All runs');
    await page.waitForSelector('#home:not([hidden]) #graph g.node');
    const unlabelled = await page.evaluate("[...document.querySelectorAll('input, select, textarea')].filter((e) => e.labels.length === 0 && !e.getAttribute('aria-label')).map((e) => e.id)");
    expect(unlabelled).toEqual([]);
    expect(await page.locator('header').count()).toBe(1);
    expect(await page.locator('main').count()).toBe(1);
    expect(await page.locator('[role="status"][aria-live="polite"]').count()).toBeGreaterThanOrEqual(3);
    // Tab reaches the graph's nodes; Enter on one brings its panel into view
    await page.focus('#run-button');
    const focused: string[] = [];
    for (let i = 0; i < 8 && !focused.includes('draft'); i++) {
      await page.keyboard.press('Tab');
      focused.push(String(await page.evaluate("document.activeElement?.getAttribute('data-node') ?? document.activeElement?.id ?? ''")));
    }
    expect(focused).toContain('draft');
    expect(await page.getAttribute('#graph g.node[data-node="draft"]', 'aria-label')).toMatch(/^draft \(llm\): (completed|not started)$/);
    await page.keyboard.press('Enter');
  });

  it('logged no script error and no content-security-policy violation', () => {
    expect(problems).toEqual([]);
  });
});
