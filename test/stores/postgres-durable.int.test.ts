// Deploys and cancellation (test/durable/deploy-conformance.ts) on the PostgreSQL run store
// against a real server (test/stores/global-setup.ts provides its URL), each test in its own schema.
import { afterAll, describe } from 'vitest';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { describeDeployAndCancel } from '../durable/deploy-conformance.ts';
import { pgSchemas } from '../support/pg-schemas.ts';

const pgs = pgSchemas('llmo_d');

describe.skipIf(pgs.url === '')('PostgreSQL store: deploys and cancellation', () => {
  afterAll(() => pgs.dropAll());
  describeDeployAndCancel('postgres', async () => createPostgresStore({ url: pgs.url, schema: pgs.fresh() }));
});
