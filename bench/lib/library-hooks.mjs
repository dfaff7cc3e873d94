/**
 * Module hooks (see ./library.mjs) that load the library from its build, dist/, in place of its
 * TypeScript source: every module that resolves into src/ or operators/ is answered with its
 * compiled twin, so a workload, the topologies it imports and the systems around it share one copy
 * of the library, the one users install. Registered after tsx, so these hooks run first and ask
 * tsx (`next`) for the source path they map.
 * @module
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROOT = `${pathToFileURL(root).href}/`;
const SOURCES = ['src/', 'operators/'].map((d) => ROOT + d);
const DIST = `${ROOT}dist/`;

/** Maps a resolved `src/…/x.ts` or `operators/…/x.ts` to `dist/…/x.js`. */
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!r.url.endsWith('.ts') || !SOURCES.some((s) => r.url.startsWith(s))) return r;
  const url = `${DIST}${r.url.slice(ROOT.length, -3)}.js`;
  if (!existsSync(fileURLToPath(url))) throw new Error(`the bench loads the library from dist/, which has no ${url.slice(ROOT.length)}: run npm run build`);
  return { url, format: 'module', shortCircuit: true };
}
