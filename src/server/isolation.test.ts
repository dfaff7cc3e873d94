// The access matrix, generated from the OpenAPI document of a server with the default routes: for EVERY
// /v1 operation the document lists, no key and a revoked key get 401; with a run of tenant A in the store,
// a key of tenant B (admin everywhere) and a key of A with no role on the run's topology get 404 on every
// run-scoped path, with the body an unknown id gets, and nothing B reads mentions A's run; every role below an operation's least role gets 403,
// its least role does not. Each operation needs an entry in SAMPLES (its least role and a valid request):
// an operation without one fails the test, so no route escapes the matrix.
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, harness, type Harness } from '../../test/server/keys-harness.ts';
import { ROLES, type Role } from './access.ts';
import type { Routes } from './context.ts';
import { ROUTES } from './routes/index.ts';
import { sendError } from './errors.ts';

/** What the matrix needs to call an operation: the least role that may, and a request that passes validation. */
interface Sample {
  readonly least: Role;
  /** Query string without `?`. */
  readonly query?: string;
  readonly body?: unknown;
  /** Values of path parameters the matrix cannot infer (those after `runs`, `keys`, `topologies`, `signals` it can). */
  readonly params?: Readonly<Record<string, string>>;
}

const RUN = 'run-a';
const UNKNOWN_RUN = 'run-unknown';

/**
 * The sample table: `METHOD /path` with every path parameter written `{}`. Extend it with each new route.
 */
const SAMPLES: Readonly<Record<string, Sample>> = {
  'GET /v1/me': { least: 'viewer' },
  'GET /v1/topologies': { least: 'viewer' },
  'GET /v1/topologies/{}': { least: 'viewer' },
  'POST /v1/runs': { least: 'operator', body: { topology: 'echo', input: { text: 'hi' } } },
  'GET /v1/runs': { least: 'viewer' },
  'GET /v1/runs/{}': { least: 'viewer' },
  'GET /v1/runs/{}/events': { least: 'viewer' },
  'GET /v1/runs/{}/state': { least: 'viewer', query: 'seq=0' },
  'GET /v1/runs/{}/stream': { least: 'viewer' },
  'POST /v1/runs/{}/cancel': { least: 'operator', body: {} },
  'POST /v1/runs/{}/signals/{}': { least: 'operator', body: { payload: null } },
  'POST /v1/runs/{}/fork': { least: 'operator', body: { from: 'out' } },
  'GET /v1/keys': { least: 'admin' },
  'POST /v1/keys': { least: 'admin', body: { roles: { echo: 'viewer' } } },
  'DELETE /v1/keys/{}': { least: 'admin' },
};

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface Op {
  readonly method: string;
  readonly path: string;
  readonly shape: string;
}

interface Doc {
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** The /v1 operations of the server's OpenAPI document (GET /openapi.json, or the document the server builds when that route is absent). */
async function operations(h: Harness): Promise<Op[]> {
  const served = await h.server.app.inject({ url: '/openapi.json' });
  const doc = (served.statusCode === 200 ? served.json() : h.server.app.swagger()) as Doc;
  const ops: Op[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/') && path !== '/v1') continue;
    for (const method of Object.keys(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      ops.push({ method: method.toUpperCase(), path, shape: `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}` });
    }
  }
  return ops;
}

const a = (role: Role): string => `${role === 'operator' || role === 'admin' ? 'an' : 'a'} ${role}`;
const isRunScoped = (op: Op): boolean => /\/runs\/\{[^}]+\}/.test(op.path);
const isKeyScoped = (op: Op): boolean => /\/keys\/\{[^}]+\}/.test(op.path);

/** The URL of an operation with the run (or key) it should act on. */
function urlOf(op: Op, sample: Sample, ids: { run: string; key: string }): string {
  const segments = op.path.split('/');
  const filled = segments.map((seg, i) => {
    const m = /^\{([^}]+)\}$/.exec(seg);
    if (m === null) return seg;
    const name = m[1]!;
    const given = sample.params?.[name];
    if (given !== undefined) return encodeURIComponent(given);
    const before = segments[i - 1];
    if (before === 'runs') return ids.run;
    if (before === 'keys') return ids.key;
    if (before === 'topologies') return 'echo';
    if (before === 'signals') return 'go';
    throw new Error(`${op.shape}: no value for path parameter {${name}}: add it to the sample's params`);
  });
  return `${filled.join('/')}${sample.query === undefined ? '' : `?${sample.query}`}`;
}

interface World {
  readonly h: Harness;
  /** Secrets: A's keys by role ('*'), A's key with a role on another topology only, B's admin, a revoked admin of A. */
  readonly a: Readonly<Record<Role, string>>;
  readonly aElsewhere: string;
  readonly b: string;
  readonly revoked: string;
  /** A key id of tenant A the key routes act on (a viewer: any admin may revoke it). */
  readonly targetKey: string;
}

async function world(routes: readonly Routes[] = ROUTES): Promise<World> {
  const h = await harness({}, undefined, routes);
  const a = { viewer: await h.key('A', { '*': 'viewer' }), operator: await h.key('A', { '*': 'operator' }), admin: await h.key('A', { '*': 'admin' }) };
  const aElsewhere = await h.key('A', { other: 'admin' });
  const b = await h.key('B', { '*': 'admin' });
  const gone = await h.keys.create({ tenant: 'A', roles: { '*': 'admin' } });
  await h.keys.revoke(gone.keyId);
  const target = await h.keys.create({ tenant: 'A', roles: { echo: 'viewer' } });
  await h.backend.start({ topology: 'echo', input: { text: 'hi' }, runId: RUN, tenant: 'A', user: 'alice' }).done;
  return { h, a, aElsewhere, b, revoked: gone.secret, targetKey: target.keyId };
}

/** Runs the matrix; resolves with one line per violation (empty: every operation behaves). */
async function matrix(w: World, samples: Readonly<Record<string, Sample>> = SAMPLES): Promise<string[]> {
  const failures: string[] = [];
  const ops = await operations(w.h);
  let address = 0;
  const call = async (op: Op, secret: string | undefined, ids = { run: RUN, key: w.targetKey }) => {
    const sample = samples[op.shape]!;
    return w.h.server.app.inject({
      method: op.method as 'GET',
      url: urlOf(op, sample, ids),
      headers: secret === undefined ? {} : bearer(secret),
      // each unauthenticated call from its own address: the failed-authentication limit is not what is tested here
      remoteAddress: `10.9.${(address >> 8) & 255}.${address++ & 255}`,
      ...(sample.body === undefined ? {} : { payload: sample.body as Record<string, unknown> }),
    });
  };
  const expectStatus = (op: Op, who: string, got: number, want: (s: number) => boolean, what: string, body: string): void => {
    if (!want(got)) failures.push(`${op.method} ${op.path} as ${who}: expected ${what}, got ${got} ${body.slice(0, 200)}`);
  };

  const missing = ops.filter((op) => samples[op.shape] === undefined);
  for (const op of missing) failures.push(`${op.shape} (${op.method} ${op.path}): no sample in the isolation matrix: add its least role and a valid request to SAMPLES`);
  const covered = ops.filter((op) => samples[op.shape] !== undefined);

  for (const op of covered) {
    const none = await call(op, undefined);
    expectStatus(op, 'no key', none.statusCode, (s) => s === 401, '401', none.body);
    const revoked = await call(op, w.revoked);
    expectStatus(op, 'a revoked key', revoked.statusCode, (s) => s === 401, '401', revoked.body);
  }

  for (const op of covered.filter((o) => isRunScoped(o) || isKeyScoped(o))) {
    const unknown = await call(op, w.a.admin, { run: UNKNOWN_RUN, key: 'k_unknown' });
    const norm = (body: string, id: string): string => body.split(id).join('<id>');
    const id = isRunScoped(op) ? RUN : w.targetKey;
    const unknownId = isRunScoped(op) ? UNKNOWN_RUN : 'k_unknown';
    expectStatus(op, 'an admin of A, unknown id', unknown.statusCode, (s) => s === 404, '404', unknown.body);
    const strangers: [string, string][] = [['an admin of tenant B', w.b]];
    if (isRunScoped(op)) strangers.push(['a key of A with no role on the run\'s topology', w.aElsewhere]);
    for (const [who, secret] of strangers) {
      const r = await call(op, secret);
      expectStatus(op, who, r.statusCode, (s) => s === 404, '404 as for an unknown id', r.body);
      if (r.statusCode === 404 && norm(r.body, id) !== norm(unknown.body, unknownId)) {
        failures.push(`${op.method} ${op.path} as ${who}: the 404 body differs from an unknown id's: ${r.body} vs ${unknown.body}`);
      }
    }
  }

  // nothing tenant B reads mentions tenant A's run (lists, topologies, anything not scoped to the run)
  for (const op of covered.filter((o) => o.method === 'GET' && !isRunScoped(o))) {
    const r = await call(op, w.b);
    if (r.body.includes(RUN)) failures.push(`${op.method} ${op.path} as an admin of tenant B: the reply mentions tenant A's run ${RUN}: ${r.body.slice(0, 200)}`);
  }

  // below the least role: 403 (reads by a viewer are never below; writes need operator or admin)
  for (const op of covered) {
    const least = ROLES.indexOf(samples[op.shape]!.least);
    for (const role of ROLES.filter((_, i) => i < least)) {
      const r = await call(op, w.a[role]);
      expectStatus(op, `${a(role)} of A`, r.statusCode, (s) => s === 403, '403', r.body);
      if (r.statusCode === 403 && (r.json() as { error?: { code?: string } }).error?.code !== 'FORBIDDEN') failures.push(`${op.method} ${op.path} as ${a(role)}: 403 without code FORBIDDEN: ${r.body}`);
    }
  }
  // the least role may (writes last: they change the world)
  for (const op of [...covered].sort((x, y) => Number(WRITE.has(x.method)) - Number(WRITE.has(y.method)))) {
    const role = samples[op.shape]!.least;
    const r = await call(op, w.a[role]);
    expectStatus(op, `${a(role)} of A (its least role)`, r.statusCode, (s) => s !== 401 && s !== 403 && s !== 404 && s < 500, 'not 401, 403, 404 or 5xx', r.body);
  }
  return failures;
}

let w: World | undefined;
afterEach(async () => { await w?.h.close(); w = undefined; });

describe('the access matrix over every /v1 operation of the OpenAPI document', () => {
  it('holds for the default routes', async () => {
    w = await world();
    const ops = await operations(w.h);
    expect(ops.length).toBeGreaterThan(0);
    expect(await matrix(w)).toEqual([]);
  });

  it('fails an operation without a sample, so no route escapes it', async () => {
    const extra: Routes = (app) => { app.get('/v1/unlisted', async () => ({ ok: true })); };
    w = await world([...ROUTES, extra]);
    const failures = await matrix(w);
    expect(failures).toEqual([expect.stringContaining('GET /v1/unlisted (GET /v1/unlisted): no sample')]);
  });

  it('catches routes that leak another tenant\'s run or let a viewer write', async () => {
    const leaky: Routes = (app) => {
      app.get('/v1/runs/:id/leak', async () => ({ ok: true }));
      app.post('/v1/runs/:id/poke', async (_req, reply) => sendError(reply, 404, 'RUN_NOT_FOUND', 'no such run'));
      app.get('/v1/everything', async () => ({ runs: [RUN] }));
    };
    w = await world([...ROUTES, leaky]);
    const failures = await matrix(w, { ...SAMPLES, 'GET /v1/everything': { least: 'viewer' }, 'GET /v1/runs/{}/leak': { least: 'viewer' }, 'POST /v1/runs/{}/poke': { least: 'operator', body: {} } });
    expect(failures).toEqual(expect.arrayContaining([
      expect.stringContaining('GET /v1/runs/{id}/leak as an admin of tenant B: expected 404'),
      expect.stringContaining('GET /v1/runs/{id}/leak as a key of A with no role'),
      expect.stringContaining('POST /v1/runs/{id}/poke as a viewer of A: expected 403'),
      expect.stringContaining('POST /v1/runs/{id}/poke as an operator of A (its least role)'),
      expect.stringContaining("GET /v1/everything as an admin of tenant B: the reply mentions tenant A's run"),
    ]));
  });
});
