/**
 * `--store <url>` (or `LLMO_STORE`): which run store a command opens, and how a
 * store that cannot be opened is reported.
 * @module
 */
import { isStoreError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RunStore } from '../runtime/store.ts';
import { EXIT } from './exit.ts';
import { fail, type Io } from './io.ts';

/**
 * The store URL of a command: its `--store` flag, else `LLMO_STORE`, else undefined.
 *
 * @example
 * ```ts
 * const url = storeUrl(opts.store, io); // 'runs.db'
 * ```
 */
export function storeUrl(flag: string | undefined, io: Io): string | undefined {
  const v = flag ?? (io.env ?? process.env)['LLMO_STORE'];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Opens the store at `url` (a file path: the embedded SQLite store; `postgres://...`);
 * a store that cannot be opened is one `llmo: ...` line and exit 2 (a bad URL, a corrupt
 * or newer file) or 1 (anything else, e.g. a server that cannot be reached).
 *
 * @example
 * ```ts
 * const opened = await openCliStore('runs.db', io);
 * if (!opened.ok) return opened.code;
 * ```
 */
export async function openCliStore(url: string, io: Io, logger?: Logger): Promise<{ ok: true; store: RunStore } | { ok: false; code: number }> {
  const { openStore } = await import('../stores/open.ts');
  try {
    return { ok: true, store: await openStore(url, logger === undefined ? {} : { logger }) };
  } catch (e) {
    const invalid = isStoreError(e) && (e.code === 'STORE_INVALID' || e.code === 'STORE_CORRUPT' || e.code === 'STORE_TOO_NEW');
    return { ok: false, code: fail(io, `--store ${url}: ${(e as Error).message}`, invalid ? EXIT.invalid : EXIT.runFailed) };
  }
}
