/**
 * Routes: the live view: the page at `/` and its files under `/assets/`. The files are
 * read once, when the server is built: the page's own (`src/server/view/`, copied next to
 * the compiled route by the build) and two libraries' browser builds served from the
 * installed packages (`@dagrejs/dagre` lays out the graph, `eventsource-parser` reads the
 * run stream). Every answer carries a strict content security policy (this origin only).
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OrchestratorError } from '../../errors.ts';
import type { Routes } from '../context.ts';
import { sendError } from '../errors.ts';

/**
 * One file of the live view, ready to send.
 *
 * @example
 * ```ts
 * const { page } = loadViewAssets();
 * console.log(page.type, page.body.length, page.etag);
 * ```
 */
export interface ViewAsset {
  readonly body: Buffer;
  /** The `content-type` header. */
  readonly type: string;
  /** A strong ETag of the body (revalidation answers 304). */
  readonly etag: string;
}

/**
 * The live view's files: the page and the assets by file name.
 *
 * @example
 * ```ts
 * const view: ViewAssets = loadViewAssets();
 * view.assets.get('app.js');
 * ```
 */
export interface ViewAssets {
  readonly page: ViewAsset;
  readonly assets: ReadonlyMap<string, ViewAsset>;
}

/**
 * The content security policy of the page and its files: scripts, styles and requests to
 * this origin only; no inline script or style, no frames, no plugins.
 *
 * @example
 * ```ts
 * reply.header('content-security-policy', VIEW_CSP);
 * ```
 */
export const VIEW_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Libraries the page imports, by the name it loads them as: package and its ESM browser build. */
const VENDOR: Readonly<Record<string, string>> = { 'dagre.js': '@dagrejs/dagre', 'eventsource-parser.js': 'eventsource-parser' };

const asset = (body: Buffer, type: string): ViewAsset => ({ body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });

/** Module specifiers of static and dynamic imports and re-exports in an ES module's text. */
const IMPORTS = /(?:\bimport|\bexport)\s*(?:[\w$*{},\s]+?\s*from\s*)?["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/**
 * The module specifiers a browser could not load from `/assets/` (bare package names) that an ES
 * module's text imports.
 *
 * @example
 * ```ts
 * bareImports('import { a } from "lodash"; import "./b.js";'); // ['lodash']
 * ```
 */
export function bareImports(source: string): string[] {
  const bare = new Set<string>();
  for (const m of source.matchAll(IMPORTS)) {
    const spec = m[1] ?? m[2]!;
    if (!/^(?:\.{0,2}\/|https?:|data:)/.test(spec)) bare.add(spec);
  }
  return [...bare];
}

/** The installed ESM build of a package (its `exports['.'].import`, else `module`). */
function vendorFile(pkg: string): string {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch (e) {
    throw new OrchestratorError('VIEW_ASSET_MISSING', `the live view needs the package '${pkg}', which is not installed`, { cause: e });
  }
  const json = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: { '.'?: { import?: unknown } }; module?: unknown };
  const entry = json.exports?.['.']?.import ?? json.module;
  if (typeof entry !== 'string') throw new OrchestratorError('VIEW_ASSET_MISSING', `the package '${pkg}' (${manifest}) names no ES module build`);
  return join(dirname(manifest), entry);
}

/** The folder of the page's own files: `src/server/view`, or `dist/src/server/view` in the build. */
const VIEW_DIR = fileURLToPath(new URL('../view/', import.meta.url));

/**
 * Reads the live view's files once: `index.html`, the `.js` and `.css` files beside it, and the
 * libraries' ES module builds. Throws a `VIEW_ASSET_MISSING` error when a file is missing and
 * `VIEW_ASSET_INVALID` when a library's build imports a package by a bare name (the browser
 * could not load it).
 *
 * @example
 * ```ts
 * const view = loadViewAssets(); // from src/server/view (or dist/src/server/view)
 * ```
 */
export function loadViewAssets(dir: string = VIEW_DIR): ViewAssets {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) throw new OrchestratorError('VIEW_ASSET_MISSING', `the live view's page is missing: ${index} (the build copies src/server/view there)`);
  const assets = new Map<string, ViewAsset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined && name !== 'index.html') assets.set(name, asset(readFileSync(join(dir, name)), type));
  }
  for (const [name, pkg] of Object.entries(VENDOR)) {
    const file = vendorFile(pkg);
    const body = readFileSync(file);
    const bare = bareImports(body.toString('utf8'));
    if (bare.length > 0) throw new OrchestratorError('VIEW_ASSET_INVALID', `${file} imports ${bare.join(', ')} by package name, which a browser cannot load from /assets/`);
    assets.set(name, asset(body, TYPES['.js']!));
  }
  return { page: asset(readFileSync(index), TYPES['.html']!), assets };
}

/** Sends a file, or 304 when the client's copy (`if-none-match`) is current. */
function sendAsset(request: FastifyRequest, reply: FastifyReply, a: ViewAsset): FastifyReply {
  reply
    .header('content-security-policy', VIEW_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    // Not versioned by name: the browser keeps a copy but asks (cheaply, by ETag) before each use.
    .header('cache-control', 'no-cache')
    .header('etag', a.etag);
  const match = request.headers['if-none-match'];
  if (typeof match === 'string' && match.split(',').some((t) => t.trim() === a.etag)) return reply.code(304).send();
  return reply.code(200).type(a.type).send(a.body);
}

const AssetParams = z.object({ file: z.string().max(100) });

/**
 * Registers the live view: `GET /` (the page) and `GET /assets/:file` (its scripts and styles,
 * 404 for any other name). They are not part of the API document; they need no key (the page
 * asks for one and sends it to `/v1`).
 *
 * @example
 * ```ts
 * viewRoutes(app, ctx);
 * ```
 */
export const viewRoutes: Routes = (app) => {
  const view = loadViewAssets();
  app.get('/', { schema: { hide: true } }, (request, reply) => sendAsset(request, reply, view.page));
  app.get('/assets/:file', { schema: { hide: true, params: AssetParams } }, (request, reply) => {
    const a = view.assets.get(request.params.file);
    if (a === undefined) return sendError(reply, 404, 'NOT_FOUND', `no asset '${request.params.file}'; the live view's files are ${[...view.assets.keys()].join(', ')}`);
    return sendAsset(request, reply, a);
  });
};
