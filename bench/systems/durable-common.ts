/**
 * Shared by the durable workloads (W15–W17): the Postgres URL from LLMO_PG_URL,
 * the skip note without it, and a fresh database (or SQLite directory) per
 * measurement, dropped afterwards.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DurableBackend, DurableSetup } from './types.ts';

/** The Postgres server of the durable workloads (LLMO_PG_URL), or undefined. */
export function pgUrl(): string | undefined {
  const u = process.env['LLMO_PG_URL']?.trim();
  return u === undefined || u === '' ? undefined : u;
}

/** The skip reason of a Postgres variant when no server is configured. */
export const skipWithoutPostgres = (): string | undefined =>
  pgUrl() === undefined
    ? 'LLMO_PG_URL is not set. Start a server with `bash scripts/pg-local.sh start` and pass what it prints, e.g. `LLMO_PG_URL=postgres://llmo:llmo@127.0.0.1:55432/llmo npm run bench`.'
    : undefined;

/** `url` pointing at database `db` instead of its own. */
function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A fresh place for one measurement: a temp directory (SQLite) or a fresh database (Postgres); `drop` removes it. */
export async function durableSetup(backend: DurableBackend, tag: string, log: (m: string) => void): Promise<DurableSetup & { drop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `llmo-bench-${tag}-`));
  const name = `llmo_bench_${tag}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  if (backend === 'sqlite') {
    return { backend, dir, name, log, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const url = pgUrl();
  if (url === undefined) throw new Error('LLMO_PG_URL is not set');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    backend, dir, name, log, pgUrl: withDatabase(url, name),
    async drop() {
      rmSync(dir, { recursive: true, force: true });
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
