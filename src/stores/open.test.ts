import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isStoreError } from '../errors.ts';
import { nativeBinding, tempDir } from '../../test/stores/support.ts';
import { openStore } from './open.ts';

const tmp = tempDir('open');
afterAll(() => tmp.remove());
const opts = nativeBinding === undefined ? {} : { nativeBinding };

const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: unknown) => (isStoreError(e) ? e.code : String(e)));

describe('openStore', () => {
  it('memory: is the in-memory store', async () => {
    const s = await openStore('memory:');
    expect(s.kind).toBe('memory');
    await s.close();
  });

  it('a path, file: and sqlite: URLs open the SQLite store on that file', async () => {
    const cases = [
      tmp.file('plain.db'),
      pathToFileURL(tmp.file('url.db')).href,
      `file:${tmp.file('file-colon.db')}`,
      `sqlite:${tmp.file('sqlite-colon.db')}`,
      `sqlite://${tmp.file('sqlite-slashes.db')}`,
    ];
    for (const url of cases) {
      const s = await openStore(url, opts);
      expect(s.kind).toBe('sqlite');
      await s.createRun({ runId: 'r', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 1 });
      await s.close();
    }
    for (const name of ['plain.db', 'url.db', 'file-colon.db', 'sqlite-colon.db', 'sqlite-slashes.db']) expect(existsSync(tmp.file(name))).toBe(true);
  });

  it('unknown schemes and empty strings are STORE_INVALID naming the value, password redacted', async () => {
    expect(await codeOf(openStore(''))).toBe('STORE_INVALID');
    const e: unknown = await openStore('mysql://me:secret@db/runs').catch((x: unknown) => x);
    expect(isStoreError(e) && e.code).toBe('STORE_INVALID');
    expect((e as Error).message).toContain('mysql://me:***@db/runs');
    expect((e as Error).message).not.toContain('secret');
  });

  it('postgres:// loads the PostgreSQL store on demand; when it cannot be loaded or opened, a StoreError says so', async () => {
    // Either the module is missing on this branch (STORE_INVALID) or it is present and the
    // server at port 1 is unreachable: both must be StoreErrors, never a bare import error.
    const e: unknown = await openStore('postgres://u:pw@127.0.0.1:1/none').then(async (s) => { await s.close(); return undefined; }, (x: unknown) => x);
    if (e !== undefined) {
      expect(isStoreError(e)).toBe(true);
      expect((e as Error).message).not.toContain(':pw@');
    }
  });

  it('invalid options are OPTIONS_INVALID', async () => {
    await expect(openStore('memory:', { durability: 'never' as 'power' })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
  });
});
