/**
 * Keys in a JSON file (`.llmo/keys.json` by default): hashes only, written atomically
 * (a temporary file renamed over it) with mode 0600. A running server sees changes other
 * processes make (`llmo keys create|revoke` on the same file) at once: each `verify` checks
 * the file's identity (inode, mtime, size) and re-reads it when it changed. Writers of every
 * process take a lock (`keys.json.lock`, a directory, via proper-lockfile: stale after 10 s
 * without its holder refreshing it, so a killed writer does not block the file) around
 * read, change and rename, so no process's create or revoke is lost to another's.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { lock } from 'proper-lockfile';
import * as z from 'zod';
import type { CreatedKey, KeyStore, NewKey } from '../access.ts';
import { RolesSchema } from '../access.ts';
import { parseOptions } from '../../runtime/options.ts';
import { createdOf, hashSecret, infoOf, keysFailed, newRow, parseNewKey, principalOfRow, sameHash, type KeyRow } from './rows.ts';

const RowSchema = z.object({
  keyId: z.string().min(1),
  tenant: z.string().min(1),
  roles: RolesSchema,
  name: z.string().optional(),
  createdAt: z.number(),
  revokedAt: z.number().optional(),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'expected a hex SHA-256'),
});

/**
 * Schema of the key file: `{ version: 1, keys: [...] }`.
 *
 * @example
 * ```ts
 * KeyFileSchema.parse(JSON.parse(await readFile('.llmo/keys.json', 'utf8')));
 * ```
 */
export const KeyFileSchema = z.object({ version: z.literal(1), keys: z.array(RowSchema) });

interface Snapshot {
  readonly stamp: string;
  readonly byId: ReadonlyMap<string, KeyRow>;
  readonly byHash: ReadonlyMap<string, KeyRow>;
}

const EMPTY: Snapshot = { stamp: 'missing', byId: new Map(), byHash: new Map() };

const errno = (e: unknown): string | undefined => (typeof e === 'object' && e !== null ? (e as { code?: string }).code : undefined);

/**
 * Schema of {@link FileKeyStoreOptions}.
 *
 * @example
 * ```ts
 * FileKeyStoreOptionsSchema.parse({ lockWaitMs: 5_000 });
 * ```
 */
export const FileKeyStoreOptionsSchema = z.strictObject({
  /** How long a write waits for another process holding the file's lock (default about 25 s: longer than a killed writer's lock takes to go stale). */
  lockWaitMs: z.number().int().nonnegative().optional(),
});

/**
 * Options of {@link createFileKeyStore}.
 *
 * @example
 * ```ts
 * const options: FileKeyStoreOptions = { lockWaitMs: 5_000 };
 * ```
 */
export type FileKeyStoreOptions = z.input<typeof FileKeyStoreOptionsSchema>;

/** Lock retries (10 ms growing by 1.3× up to 500 ms between tries) that fit in `ms`. */
function retriesWithin(ms: number): number {
  let n = 0;
  for (let waited = 0, delay = 10; waited + delay <= ms; n++, waited += delay, delay = Math.min(500, delay * 1.3));
  return n;
}

/**
 * A key store in a JSON file (created on the first `create`; a missing file holds no keys).
 * Throws a `ValidationError` (`OPTIONS_INVALID`) naming a bad option.
 *
 * @example
 * ```ts
 * const keys = createFileKeyStore('.llmo/keys.json');
 * const { secret } = await keys.create({ tenant: 'acme', roles: { '*': 'operator' } });
 * ```
 */
export function createFileKeyStore(path: string, options: FileKeyStoreOptions = {}): KeyStore {
  const o = parseOptions(FileKeyStoreOptionsSchema, options, 'createFileKeyStore options');
  const retries = retriesWithin(o.lockWaitMs ?? 25_000);
  let current: Snapshot = EMPTY;
  // one writer at a time in this process; other processes race only between read and rename
  let writing: Promise<unknown> = Promise.resolve();

  const stampOf = async (): Promise<string> => {
    try {
      const s = await stat(path, { bigint: true });
      return `${s.ino}:${s.mtimeNs}:${s.size}`;
    } catch (e) {
      if (errno(e) === 'ENOENT') return 'missing';
      throw keysFailed(path, 'stat', e);
    }
  };

  /** The file's keys, re-read when the file changed since the last read. */
  const load = async (): Promise<Snapshot> => {
    const stamp = await stampOf();
    if (stamp === current.stamp) return current;
    if (stamp === 'missing') return (current = EMPTY);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return (current = EMPTY);
      throw keysFailed(path, 'read', e);
    }
    let parsed: z.infer<typeof KeyFileSchema>;
    try {
      const r = KeyFileSchema.safeParse(JSON.parse(text));
      if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; '));
      parsed = r.data;
    } catch (e) {
      throw keysFailed(path, 'parse', e);
    }
    const byId = new Map<string, KeyRow>();
    const byHash = new Map<string, KeyRow>();
    for (const k of parsed.keys) {
      const row: KeyRow = {
        keyId: k.keyId, tenant: k.tenant, roles: k.roles, createdAt: k.createdAt, hash: k.hash,
        ...(k.name === undefined ? {} : { name: k.name }), ...(k.revokedAt === undefined ? {} : { revokedAt: k.revokedAt }),
      };
      byId.set(row.keyId, row);
      byHash.set(row.hash, row);
    }
    return (current = { stamp, byId, byHash });
  };

  /**
   * Reads the newest file, changes its rows, writes it atomically (a flushed temporary file,
   * mode 0600, renamed over it), all under the file lock every process's writers take.
   */
  const change = <T>(f: (rows: Map<string, KeyRow>) => { readonly result: T; readonly changed: boolean }): Promise<T> => {
    const next = writing.then(() => locked(async (held) => {
      const snap = await load();
      const rows = new Map(snap.byId);
      const { result, changed } = f(rows);
      if (!changed) return result;
      const body = `${JSON.stringify({ version: 1, keys: [...rows.values()] }, null, 2)}\n`;
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, body, { mode: 0o600, flush: true });
        await chmod(tmp, 0o600);
        held(); // a lock lost while writing (its refresh failed, another took it as stale): no rename over their work
        await rename(tmp, path);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw keysFailed(path, 'write', e);
      }
      await load();
      return result;
    }));
    writing = next.catch(() => undefined);
    return next;
  };

  /** Runs `f` holding the file's lock (waiting up to `lockWaitMs` for another writer); `held()` throws once the lock was lost. */
  const locked = async <T>(f: (held: () => void) => Promise<T>): Promise<T> => {
    let lost: Error | undefined;
    let release: () => Promise<void>;
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      release = await lock(path, {
        realpath: false, lockfilePath: `${path}.lock`, stale: 10_000, update: 2_000,
        retries: { retries, factor: 1.3, minTimeout: 10, maxTimeout: 500 },
        onCompromised: (e) => {
          lost = e;
        },
      });
    } catch (e) {
      throw keysFailed(path, 'lock', e);
    }
    try {
      return await f(() => {
        if (lost !== undefined) throw lost;
      });
    } finally {
      await release().catch(() => undefined); // a compromised lock is no longer ours to release
    }
  };

  return {
    location: path,
    async verify(secret) {
      const hash = hashSecret(secret);
      const r = (await load()).byHash.get(hash);
      return r !== undefined && r.revokedAt === undefined && sameHash(r.hash, hash) ? principalOfRow(r) : undefined;
    },
    async create(k: NewKey): Promise<CreatedKey> {
      const checked = parseNewKey(k);
      return change((rows) => {
        const { row, secret } = newRow(checked, Date.now());
        rows.set(row.keyId, row);
        return { result: createdOf(row, secret), changed: true };
      });
    },
    async list(tenant) {
      return [...(await load()).byId.values()].filter((r) => tenant === undefined || r.tenant === tenant).map(infoOf);
    },
    revoke(keyId, tenant) {
      return change((rows) => {
        const r = rows.get(keyId);
        if (r === undefined || (tenant !== undefined && r.tenant !== tenant)) return { result: false, changed: false };
        if (r.revokedAt !== undefined) return { result: true, changed: false };
        rows.set(keyId, { ...r, revokedAt: Date.now() });
        return { result: true, changed: true };
      });
    },
    async close() {
      await writing;
    },
  };
}
