// A server for the key, auth and isolation tests: an engine on the memory store, one or more
// topologies served by the local backend, the memory key store (or one given), every default route.
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { KeyStore, Roles } from '../../src/server/access.ts';
import { createLocalBackend, type RunBackend } from '../../src/server/backend.ts';
import type { Routes } from '../../src/server/context.ts';
import { createMemoryKeyStore } from '../../src/server/keys/memory.ts';
import type { ServerOptions } from '../../src/server/options.ts';
import { createServer, type LlmoServer } from '../../src/server/server.ts';

export const echo = topology('echo', { input: z.object({ text: z.string() }) })
  .map('out', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'out' });

export const other = topology('other', { input: z.object({ text: z.string() }) })
  .map('out', { run: ({ input }) => input.text })
  .build({ output: 'out' });

export interface Harness {
  readonly server: LlmoServer;
  readonly keys: KeyStore;
  readonly backend: RunBackend;
  /** Creates a key and returns its secret. */
  key(tenant: string, roles: Roles, name?: string): Promise<string>;
  close(): Promise<void>;
}

export async function harness(options: ServerOptions = {}, keys: KeyStore = createMemoryKeyStore(), routes?: readonly Routes[]): Promise<Harness> {
  const engine = createEngine({ store: createMemoryStore() });
  const backend = createLocalBackend(engine, [echo, other]);
  const server = await createServer({ backend, runs: engine.runs, keys }, { port: 0, ...options }, ...(routes === undefined ? [] : [routes]));
  return {
    server,
    keys,
    backend,
    key: async (tenant, roles, name) => (await keys.create({ tenant, roles, ...(name === undefined ? {} : { name }) })).secret,
    close: async () => {
      await server.close();
      await keys.close();
    },
  };
}

export const bearer = (secret: string): Record<string, string> => ({ authorization: `Bearer ${secret}` });
