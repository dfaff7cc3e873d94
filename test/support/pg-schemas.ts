/**
 * Throwaway PostgreSQL schemas for the integration suites on a real server (its URL comes from
 * test/stores/global-setup.ts as inject('pgUrl'), '' when none could be had outside CI: the
 * suites skip): fresh schema names unique to this process, the store URL of a schema, a
 * short-lived admin client for raw SQL, and dropping every schema handed out.
 *
 * @example
 * ```ts
 * const pgs = pgSchemas('llmo_budget');
 * describe.skipIf(pgs.url === '')('PostgreSQL budget ledger', () => {
 *   afterAll(() => pgs.dropAll());
 *   it('opens', async () => {
 *     const s = pgs.fresh();
 *     await openLedger(pgs.at(s));
 *     await pgs.admin((c) => c.query(`SELECT version FROM "${s}".llmo_budget_schema`));
 *   });
 * });
 * ```
 */
import pg from 'pg';
import { inject } from 'vitest';
import type {} from '../stores/global-setup.ts';

/** The schemas of one suite on the server the global setup provides. */
export interface PgSchemas {
  /** postgres://... of the server; '' when there is none (the suite skips). */
  readonly url: string;
  /** A new schema name (not created: stores create it), dropped by {@link PgSchemas.dropAll}. */
  fresh(): string;
  /** The store URL of `schema` (`?schema=` or `&schema=`). */
  at(schema: string): string;
  /** Runs `fn` with a client of its own on the server, ended afterwards. */
  admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T>;
  /** Drops every schema {@link PgSchemas.fresh} handed out (for `afterAll`). */
  dropAll(): Promise<void>;
}

/** Schemas named `<prefix><pid>_<random>_<n>` on the server of `inject('pgUrl')`. */
export function pgSchemas(prefix: string): PgSchemas {
  const url = inject('pgUrl');
  const base = `${prefix}${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let n = 0;
  const schemas = new Set<string>();
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    url,
    fresh() {
      const s = `${base}_${n++}`;
      schemas.add(s);
      return s;
    },
    at: (schema) => `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`,
    admin,
    async dropAll() {
      if (schemas.size === 0) return;
      await admin(async (c) => {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      });
    },
  };
}
