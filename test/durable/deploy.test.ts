// Deploys and cancellation (test/durable/deploy-conformance.ts) on the memory store and an SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { openStore } from '../../src/stores/open.ts';
import { describeDeployAndCancel } from './deploy-conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmo-deploy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeDeployAndCancel('memory', async () => createMemoryStore());
describeDeployAndCancel('sqlite', async () => openStore(join(dir, `runs-${n++}.db`)));
