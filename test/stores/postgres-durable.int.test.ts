// Deploys and cancellation (test/durable/deploy-conformance.ts) on the PostgreSQL run store
// against a real server (test/stores/global-setup.ts provides its URL), each test in its own schema.
import pg from 'pg';
import { afterAll, describe, inject } from 'vitest';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { describeDeployAndCancel } from '../durable/deploy-conformance.ts';

const url = inject('pgUrl');
const base = `llmo_d${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const schemas: string[] = [];

describe.skipIf(url === '')('PostgreSQL store: deploys and cancellation', () => {
  afterAll(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    } finally {
      await c.end();
    }
  });
  describeDeployAndCancel('postgres', async () => {
    const schema = `${base}_${schemas.length}`;
    schemas.push(schema);
    return createPostgresStore({ url, schema });
  });
});
