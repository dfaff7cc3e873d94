/**
 * Which build of llm-orchestrator the bench measures. By default the one users install: the
 * JavaScript that `npm run build` (tsc) writes to dist/, loaded through module hooks that answer
 * every import of `src/…` or `operators/…` with its compiled twin (./library-hooks.mjs). With
 * `--library source` the TypeScript source runs through tsx, whose esbuild `keepNames` adds an
 * `Object.defineProperty` call for every named closure created (the bench README measures it).
 * Children inherit the choice through `LLMO_BENCH_LIBRARY`, so processes a workload starts
 * (workers, clients) load the same build.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `dist`: the built package (default); `source`: src/ through tsx. */
export type Library = 'dist' | 'source';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HOOKS = path.join(root, 'bench/lib/library.mjs');

/**
 * The library this process's children should load: `LLMO_BENCH_LIBRARY` as the harness set it
 * (dist when unset).
 *
 * @example
 * ```ts
 * spawn(process.execPath, [...nodeImports(), 'worker.ts']);
 * ```
 */
export function currentLibrary(): Library {
  return process.env['LLMO_BENCH_LIBRARY'] === 'source' ? 'source' : 'dist';
}

/**
 * The `--import` flags a bench process is started with: tsx, and the dist hooks unless the
 * library runs from source.
 *
 * @example
 * ```ts
 * spawn(process.execPath, [...nodeImports(), path.join(here, 'w23-clients.ts')]);
 * ```
 */
export function nodeImports(library: Library = currentLibrary()): string[] {
  return library === 'dist' ? ['--import', 'tsx', '--import', HOOKS] : ['--import', 'tsx'];
}

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && !e.name.endsWith('.test.ts')) t = Math.max(t, statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/**
 * Builds dist/ (`npm run build`) when it is missing or older than a source file; returns whether it built.
 *
 * @example
 * ```ts
 * if (library === 'dist') ensureBuilt();
 * ```
 */
export function ensureBuilt(): boolean {
  let built = 0;
  try {
    built = statSync(path.join(root, 'dist/src/index.js')).mtimeMs;
  } catch {
    built = 0;
  }
  if (built > 0 && built >= Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'operators')))) return false;
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  return true;
}
