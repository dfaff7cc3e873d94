/**
 * Checks a store file before SQLite opens it for writing, so a file that is not a
 * database, or is truncated, is refused and left untouched.
 * @module
 */
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.ts';

const MAGIC = 'SQLite format 3\u0000';

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') return undefined;
    throw new StoreError('STORE_INVALID', `run store ${path}: cannot read the file: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Checks the header and size of an existing store file (a missing or empty file is
 * fine: SQLite creates the database). Throws `STORE_CORRUPT` when the file does not
 * start with SQLite's header, its page size is invalid, its size is not a whole
 * number of pages, or (with no write-ahead log beside it) it holds fewer pages than
 * its header records; `STORE_INVALID` for a directory, or a new file in a missing directory. Reads only.
 *
 * @example
 * ```ts
 * checkStoreFile('runs.db');
 * ```
 */
export function checkStoreFile(path: string): void {
  const stat = statOf(path);
  if (stat === undefined) {
    if (statOf(dirname(path))?.isDirectory() !== true) throw new StoreError('STORE_INVALID', `run store ${path}: its directory does not exist`);
    return;
  }
  if (!stat.isFile()) throw new StoreError('STORE_INVALID', `run store ${path} is not a file`);
  if (stat.size === 0) return;
  const corrupt = (why: string): StoreError =>
    new StoreError('STORE_CORRUPT', `run store ${path} is not a usable SQLite database: ${why}; the file was left as it is`);
  if (stat.size < 100) throw corrupt(`the file is ${stat.size} bytes, shorter than a database header`);
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1', 0, 16) !== MAGIC) throw corrupt('it does not start with the SQLite header');
  const raw = header.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw corrupt(`invalid page size ${raw}`);
  if (stat.size % pageSize !== 0) throw corrupt(`its size (${stat.size} bytes) is not a whole number of ${pageSize}-byte pages: truncated`);
  // The header's page count is valid when its change counter matches "version-valid-for".
  const headerPages = header.readUInt32BE(28);
  const valid = header.readUInt32BE(24) === header.readUInt32BE(92) && headerPages > 0;
  const wal = statOf(`${path}-wal`);
  if (valid && (wal === undefined || wal.size === 0) && headerPages > stat.size / pageSize) {
    throw corrupt(`its header records ${headerPages} pages but the file holds ${stat.size / pageSize}: truncated`);
  }
}
