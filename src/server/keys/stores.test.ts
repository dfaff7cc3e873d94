// Key stores: the shared behaviour on memory, a JSON file and SQLite (PostgreSQL in postgres.int.test.ts),
// then what is particular to files: mode 0600, atomic writes, another process's changes seen at once,
// a broken file reported as KEY_STORE_FAILED (the server answers 503), openKeyStore's URL forms.
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeKeyStore } from '../../../test/server/key-store-conformance.ts';
import { createFileKeyStore } from './file.ts';
import { createMemoryKeyStore } from './memory.ts';
import { DEFAULT_KEYS_FILE, openKeyStore } from './open.ts';
import { hashSecret } from './rows.ts';
import { createSqliteKeyStore } from './sqlite.ts';

let dir = '';
let n = 0;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'llmo-keys-')); });
const fresh = (ext: string): string => join(dir, `k${n++}${ext}`);

describeKeyStore('memory', async () => createMemoryKeyStore());
describeKeyStore('JSON file', async () => createFileKeyStore(fresh('/keys.json')));
describeKeyStore('SQLite', async () => createSqliteKeyStore(fresh('.db')));

describe('JSON file key store', () => {
  it('writes only hashes, atomically, with mode 0600, creating its directory', async () => {
    const path = fresh('/.llmo/keys.json');
    const keys = createFileKeyStore(path);
    const k = await keys.create({ tenant: 'acme', roles: { '*': 'admin' } });
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain(k.secret);
    expect(text).toContain(hashSecret(k.secret));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readdir(join(path, '..'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await keys.close();
  });

  it('sees keys another process creates and revokes on the same file, without reopening', async () => {
    const path = fresh('/keys.json');
    const server = createFileKeyStore(path);
    const cli = createFileKeyStore(path);
    expect(await server.verify('llmo_nothing')).toBeUndefined();
    const k = await cli.create({ tenant: 'acme', roles: { rag: 'operator' } });
    expect(await server.verify(k.secret)).toMatchObject({ keyId: k.keyId, tenant: 'acme' });
    const other = await cli.create({ tenant: 'acme', roles: { rag: 'viewer' } });
    expect(await cli.revoke(k.keyId)).toBe(true);
    expect(await server.verify(k.secret)).toBeUndefined();
    expect(await server.verify(other.secret)).toMatchObject({ keyId: other.keyId });
    // the server writing keeps what the CLI wrote
    await server.create({ tenant: 'acme', roles: { '*': 'viewer' } });
    expect((await cli.list()).map((x) => x.keyId)).toEqual(expect.arrayContaining([k.keyId, other.keyId]));
    await Promise.all([server.close(), cli.close()]);
  });

  it('keeps concurrent creates of one process', async () => {
    const keys = createFileKeyStore(fresh('/keys.json'));
    const made = await Promise.all(Array.from({ length: 10 }, (_, i) => keys.create({ tenant: 'acme', roles: { '*': 'viewer' }, name: `k${i}` })));
    expect((await keys.list()).length).toBe(10);
    for (const k of made) expect(await keys.verify(k.secret)).toBeDefined();
    await keys.close();
  });

  it('keeps concurrent creates and revokes of several processes on one file (a file lock around read-change-rename)', async () => {
    const path = fresh('/keys.json');
    const a = createFileKeyStore(path);
    const b = createFileKeyStore(path); // its own writer: what another process is
    const first = await a.create({ tenant: 'acme', roles: { '*': 'viewer' }, name: 'first' });
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).create({ tenant: 'acme', roles: { '*': 'viewer' }, name: `k${i}` })));
    const [revoked] = await Promise.all([b.revoke(first.keyId), ...Array.from({ length: 4 }, (_, i) => a.create({ tenant: 'acme', roles: { '*': 'viewer' }, name: `late${i}` }))]);
    expect(revoked).toBe(true);
    const c = createFileKeyStore(path);
    expect((await c.list()).length).toBe(17);
    for (const k of made) expect(await c.verify(k.secret)).toBeDefined();
    expect(await c.verify(first.secret)).toBeUndefined();
    expect((await readdir(join(path, '..'))).filter((f) => !f.endsWith('keys.json'))).toEqual([]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('takes over the lock a killed writer left behind once it is stale', async () => {
    const path = fresh('/keys.json');
    await mkdir(`${path}.lock`, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    const keys = createFileKeyStore(path);
    const k = await keys.create({ tenant: 'acme', roles: { '*': 'viewer' } });
    expect(await keys.verify(k.secret)).toBeDefined();
    expect((await readdir(join(path, '..'))).filter((f) => f.endsWith('.lock'))).toEqual([]);
    await keys.close();
  });

  it('a lock another live writer holds past lockWaitMs: KEY_STORE_FAILED (retriable), nothing written; then the write goes through', async () => {
    const path = fresh('/keys.json');
    const keys = createFileKeyStore(path, { lockWaitMs: 50 });
    const k = await keys.create({ tenant: 'acme', roles: { '*': 'viewer' } });
    const before = await readFile(path, 'utf8');
    await mkdir(`${path}.lock`); // a live holder: its lock is fresh
    const e: unknown = await keys.create({ tenant: 'acme', roles: { '*': 'admin' } }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'KEY_STORE_FAILED', retriable: true, message: expect.stringContaining('lock') });
    expect(await readFile(path, 'utf8')).toBe(before);
    await rm(`${path}.lock`, { recursive: true });
    await keys.revoke(k.keyId);
    expect(await keys.verify(k.secret)).toBeUndefined();
    expect(() => createFileKeyStore(path, { lockWaitMs: -1 })).toThrow(/lockWaitMs/);
    await keys.close();
  });

  it('reports a broken file as KEY_STORE_FAILED naming it, and a missing file as no keys', async () => {
    const path = fresh('.json');
    const keys = createFileKeyStore(path);
    expect(await keys.list()).toEqual([]);
    await writeFile(path, '{"version":1,"keys":[{"keyId":"k"}]}');
    await expect(keys.verify('llmo_x')).rejects.toMatchObject({ code: 'KEY_STORE_FAILED', message: expect.stringContaining(path) });
    await writeFile(path, 'not json');
    await expect(keys.list()).rejects.toMatchObject({ code: 'KEY_STORE_FAILED' });
  });
});

describe('openKeyStore', () => {
  it('opens a JSON file, a SQLite file by extension or scheme, and memory:', async () => {
    const json = await openKeyStore(fresh('.json'));
    const db = await openKeyStore(fresh('.db'));
    const sq = await openKeyStore(`sqlite:${fresh('.keys')}`);
    const mem = await openKeyStore('memory:');
    for (const s of [json, db, sq, mem]) {
      const k = await s.create({ tenant: 't', roles: { '*': 'viewer' } });
      expect(await s.verify(k.secret)).toMatchObject({ tenant: 't' });
      await s.close();
    }
    expect(json.location.endsWith('.json')).toBe(true);
    expect(DEFAULT_KEYS_FILE).toBe('.llmo/keys.json');
  });

  it('names a bad URL', async () => {
    await expect(openKeyStore('')).rejects.toMatchObject({ code: 'OPTIONS_INVALID', issues: [expect.objectContaining({ path: ['keys'] })] });
    await expect(openKeyStore('redis://x')).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
  });

  it('sees SQLite revocations from another connection at the next verify', async () => {
    const path = fresh('.db');
    const a = createSqliteKeyStore(path);
    const b = createSqliteKeyStore(path);
    const k = await a.create({ tenant: 'acme', roles: { '*': 'viewer' } });
    expect(await b.verify(k.secret)).toBeDefined();
    await a.revoke(k.keyId);
    expect(await b.verify(k.secret)).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });
});
