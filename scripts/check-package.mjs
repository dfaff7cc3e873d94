#!/usr/bin/env node
// Checks the package as its users get it: the tarball `npm pack` makes, installed from that file into a
// scratch project outside the repository (its dependencies come from the registry, through the npm cache).
//
//   node scripts/check-package.mjs              # build (scripts/build.mjs), then check
//   node scripts/check-package.mjs --no-build   # check the dist/ there is (CI: `npm test` just built it)
//   node scripts/check-package.mjs --keep       # keep the scratch folder (its path is printed)
//
// Checks, in order; any failure makes the exit code 1 and is named in the summary:
//   contents   the tarball holds only dist JavaScript, declarations, source maps, the Avro schemas, the
//              server's page files, bin,
//              README, LICENSE and package.json, and every `exports`/`bin` target is in it;
//   install    the tarball installs into a scratch project (with typescript, esbuild, @types/node and the
//              optional peers @opentelemetry/api and gpt-tokenizer), counting npm's warnings;
//   runtime    plain Node ESM: the core runs a small topology on the default engine (simulated model),
//              every subpath entry imports, and the server serves its page and a run;
//   core-deps  importing the core resolves none of the heavy or optional packages (a resolve hook records
//              every URL); the packages each entry loads are printed;
//   types      a consumer .ts using the core and every subpath type-checks with skipLibCheck off under
//              `module: nodenext` + strict, under `tsc --init`'s defaults, and under `moduleResolution: bundler`;
//   bundle     esbuild bundles a core hello-world (platform node, minified) to at most 500 KB, and the bundle
//              runs; the `/kafka` + `/worker` bundle runs too (its size is printed, no limit);
//   bin        `llmo --help` runs from the installed package.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const CORE_BUNDLE_LIMIT = 500 * 1024;
/** Packages the core entry must not load: transports, documents, tracing, tokenizer, logging, HTTP streaming, tsx. */
const NOT_IN_CORE = ['kafkajs', 'avsc', 'yaml', '@opentelemetry/', 'gpt-tokenizer', 'pino', 'eventsource-parser', 'tsx'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const results = []; // { name, ok, ms, detail }
const log = (s) => process.stdout.write(`${s}\n`);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

class CheckError extends Error {}
const fail = (message) => {
  throw new CheckError(message);
};

/** Runs a command; returns stdout, or fails with its output when it exits non-zero. */
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) fail(`${cmd} ${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    fail(`\`${path.basename(cmd)} ${argv.join(' ')}\` exited with ${r.status ?? r.signal}${out ? `:\n${indent(out)}` : ''}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}
const indent = (s, n = 4) => s.split('\n').map((l) => `${' '.repeat(n)}${l}`).join('\n');

async function step(name, fn) {
  const t0 = performance.now();
  log(`\n── ${name}`);
  try {
    const detail = await fn();
    const ms = performance.now() - t0;
    results.push({ name, ok: true, ms, detail });
    log(`✓ ${name}${detail ? `: ${detail}` : ''} (${(ms / 1000).toFixed(1)} s)`);
    return true;
  } catch (e) {
    const ms = performance.now() - t0;
    const message = e instanceof CheckError ? e.message : (e?.stack ?? String(e));
    results.push({ name, ok: false, ms, detail: message.split('\n')[0] });
    log(`✗ ${name} FAILED (${(ms / 1000).toFixed(1)} s):\n${indent(message, 2)}`);
    return false;
  }
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'llmo-package-'));
const project = path.join(scratch, 'consumer');
mkdirSync(project);
const write = (file, text) => writeFileSync(path.join(project, file), text);
let tarball;
let installed = false;
const t0 = performance.now();
log(`check-package: ${pkg.name}@${pkg.version}, node ${process.version}, scratch ${scratch}`);

// ── build + pack ───────────────────────────────────────────────────────────────────────────────────────
await step('pack', () => {
  if (!args['no-build']) run(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  if (!existsSync(path.join(root, 'dist/src/index.js'))) fail('dist/src/index.js is missing: run `npm run build` first (or drop --no-build)');
  const { stdout } = run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: root });
  const [info] = JSON.parse(stdout);
  tarball = path.join(scratch, info.filename);
  return `${info.filename}, ${info.entryCount} files, ${kb(info.size)} packed, ${kb(info.unpackedSize)} unpacked`;
});

// ── contents ───────────────────────────────────────────────────────────────────────────────────────────
await step('contents', () => {
  if (tarball === undefined) fail('no tarball');
  const { stdout } = run('tar', ['-tzf', tarball]);
  const files = stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const allowed = [
    /^package\.json$/,
    /^README(\.md)?$/i,
    /^LICEN[CS]E(\.\w+)?$/i,
    /^bin\/[^/]+\.m?js$/,
    /^dist\/(src|operators)\/.+\.(js|d\.ts|js\.map|d\.ts\.map)$/,
    /^dist\/src\/transports\/schemas\/[^/]+\.avsc$/,
    /^dist\/src\/server\/view\/[^/]+\.(html|css|js)$/,
  ];
  const why = (f) => {
    if (/(^|\/)(test|tests|__tests__|fixtures)\//.test(f) || /\.(int\.)?test\.|\.spec\./.test(f)) return 'a test';
    if (f.startsWith('bench/')) return 'the bench';
    if (f.startsWith('.ci/')) return 'CI';
    if (f.startsWith('scripts/')) return 'a build script';
    if (f.startsWith('topologies/')) return 'an example topology';
    if (/\.tsbuildinfo$/.test(f)) return 'a tsbuildinfo';
    if (/^(src|operators)\//.test(f)) return 'a TypeScript source';
    if (!allowed.some((re) => re.test(f))) return 'not a published kind of file';
    return undefined;
  };
  const bad = files.map((f) => [f, why(f)]).filter(([, w]) => w !== undefined);
  const missing = [];
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const targets = typeof target === 'string' ? [target] : Object.entries(target).filter(([cond]) => cond !== 'llmo-source').map(([, t]) => t);
    for (const t of targets) if (!files.includes(t.replace(/^\.\//, ''))) missing.push(`exports["${sub}"] → ${t}`);
  }
  for (const [name, t] of Object.entries(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {}))) {
    if (!files.includes(t.replace(/^\.\//, ''))) missing.push(`bin.${name} → ${t}`);
  }
  const problems = [
    ...bad.map(([f, w]) => `unexpected file (${w}): ${f}`),
    ...missing.map((m) => `missing: ${m}`),
  ];
  if (problems.length > 0) fail(`${problems.length} problem(s) in the tarball:\n${indent(problems.slice(0, 40).join('\n'))}${problems.length > 40 ? `\n    … ${problems.length - 40} more` : ''}`);
  const kinds = {};
  for (const f of files) {
    const k = f.endsWith('.d.ts') ? '.d.ts' : f.endsWith('.map') ? '.map' : f.endsWith('.avsc') ? '.avsc' : f.endsWith('.js') || f.endsWith('.mjs') ? 'js' : f;
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  return `${files.length} files (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')})`;
});

// ── install into a scratch project ──────────────────────────────────────────────────────────────────────
/** The version the repository itself uses, so the scratch install mostly hits the npm cache. */
const rootVersion = (name, fallback) => {
  try {
    return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return fallback;
  }
};
await step('install', () => {
  if (tarball === undefined) fail('no tarball');
  write('package.json', `${JSON.stringify({
    name: 'llmo-package-check', version: '0.0.0', private: true, type: 'module',
    // esbuild's postinstall only double-checks its binary (the optional @esbuild/<platform> package has it);
    // our own `prepare` (the build) counts as an install script for a file: install (not from a registry),
    // and must not run there; npm names such a source by its file: spec.
    allowScripts: { esbuild: false, [`file:${tarball}`]: false },
  }, null, 2)}\n`);
  const extra = [
    `typescript@${rootVersion('typescript', '5')}`,
    `esbuild@${rootVersion('esbuild', 'latest')}`,
    `@types/node@${rootVersion('@types/node', '20')}`,
    `@opentelemetry/api@${rootVersion('@opentelemetry/api', '1')}`,
    `gpt-tokenizer@${rootVersion('gpt-tokenizer', '4')}`,
  ];
  const { stdout, stderr } = run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...extra], { cwd: project });
  const warns = `${stdout}\n${stderr}`.split('\n').filter((l) => /^npm warn/i.test(l));
  if (warns.length > 0) log(`  npm printed ${warns.length} warning line(s):\n${indent(warns.slice(0, 20).join('\n'))}`);
  // A dependency that resolves (for a user, without our lockfile) to a version whose engines exclude this Node: with
  // engine-strict the install fails. fastify 5 takes light-my-request ^6, whose 6.8 needs cookie 2 (Node >= 22): our
  // direct dependency on light-my-request ~6.6.0 keeps it on cookie 1 for Node 20.
  const badEngine = warns.filter((l) => /EBADENGINE/.test(l));
  if (badEngine.length > 0) fail(`a dependency does not support Node ${process.version} (EBADENGINE):\n${indent(warns.join('\n'))}`);
  const version = JSON.parse(readFileSync(path.join(project, 'node_modules', pkg.name, 'package.json'), 'utf8')).version;
  installed = true;
  return `${pkg.name}@${version} + ${extra.join(', ')}; ${warns.length} npm warn line(s)`;
});

const subpaths = Object.keys(pkg.exports).filter((s) => s !== '.' && s !== './package.json').map((s) => `${pkg.name}${s.slice(1)}`);
const entries = [pkg.name, ...subpaths];
const node = (argv, opts = {}) => run(process.execPath, argv, { cwd: project, ...opts }).stdout;

// A tiny topology: a map node, then an llm node on the simulated model the default engine serves.
const HELLO = `import { createEngine, topology } from '${pkg.name}';

const hello = topology('hello')
  .map('greet', { run: ({ input }) => \`hello, \${String(input)}\` })
  .llm('reply', { after: ['greet'], model: 'sim:fast', maxTokens: 8, prompt: ({ deps }) => deps.greet })
  .build({ output: 'reply' });

const engine = createEngine();
const result = await engine.run(hello, 'world');
await engine.shutdown();
if (result.status !== 'completed') throw new Error(\`run \${result.status}: \${result.error?.message}\`);
console.log(JSON.stringify({ status: result.status, greet: result.outputs?.greet, reply: result.output.text }));
`;

// ── (a) runtime: plain Node ESM ──────────────────────────────────────────────────────────────────────────
await step('runtime', () => {
  if (!installed) fail('not installed');
  write('hello.mjs', HELLO);
  const out = node(['hello.mjs']).trim();
  log(`  core: ${out}`);
  write('entries.mjs', `for (const id of ${JSON.stringify(entries)}) {
  const m = await import(id);
  const names = Object.keys(m);
  if (names.length === 0) throw new Error(\`\${id} exports nothing\`);
  console.log(\`\${id}: \${names.length} exports (\${names.slice(0, 6).join(', ')}\${names.length > 6 ? ', …' : ''})\`);
}
`);
  log(indent(node(['entries.mjs']).trim(), 2));
  // the server from the package: its page files shipped, its framework installed, a run through the API
  write('server.mjs', `import { createEngine, topology } from '${pkg.name}';
import { createMemoryStore } from '${pkg.name}/stores';
import { createLocalBackend, createMemoryKeyStore, createServer } from '${pkg.name}/server';
const t = topology('echo').map('out', { run: () => 'ok' }).build({ output: 'out' });
const engine = createEngine({ store: createMemoryStore() });
const keys = createMemoryKeyStore();
const { secret } = await keys.create({ tenant: 't', roles: { '*': 'operator' } });
const server = await createServer({ backend: createLocalBackend(engine, [t]), runs: engine.runs, keys }, { port: 0 });
const page = await server.app.inject({ method: 'GET', url: '/' });
const run = await server.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: 'Bearer ' + secret }, payload: { topology: 'echo', input: {}, wait: true } });
await server.close();
await engine.shutdown();
if (page.statusCode !== 200 || !page.body.includes('<html')) throw new Error('GET / answered ' + page.statusCode);
if (run.statusCode !== 200 || run.json().output !== 'ok') throw new Error('POST /v1/runs answered ' + run.statusCode + ' ' + run.body);
console.log('server: GET / ' + page.statusCode + ' (' + page.body.length + ' bytes), POST /v1/runs ' + run.statusCode);
`);
  log(`  ${node(['server.mjs']).trim()}`);
  return `core ran a topology; ${entries.length} entries import; the server served its page and a run`;
});

// ── (b) what each entry loads ────────────────────────────────────────────────────────────────────────────
await step('core-deps', () => {
  if (!installed) fail('not installed');
  write('hooks.mjs', `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, \`\${r.url}\\n\`);
  return r;
}
`);
  write('load.mjs', `import { register, createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
const [id, log] = process.argv.slice(2);
writeFileSync(log, '');
register('./hooks.mjs', import.meta.url, { data: { log } });
await import(id);
// CommonJS modules required from CommonJS do not pass the ESM hooks (Node 20); the require cache has them.
const urls = [...readFileSync(log, 'utf8').split('\\n').filter(Boolean), ...Object.keys(createRequire(import.meta.url).cache)];
const packages = new Set();
for (const u of urls) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(decodeURIComponent(u));
  if (m && m[1] !== ${JSON.stringify(pkg.name)}) packages.add(m[1]);
}
const own = urls.filter((u) => u.includes('/node_modules/${pkg.name}/')).length;
console.log(JSON.stringify({ own, packages: [...packages].sort() }));
`);
  let coreBad = [];
  let coreLine = '';
  for (const id of entries) {
    const logFile = path.join(scratch, 'resolved.txt');
    const { own, packages } = JSON.parse(node(['load.mjs', id, logFile]).trim());
    log(`  ${id}: ${own} files of its own; packages: ${packages.join(', ') || 'none'}`);
    if (id === pkg.name) {
      coreBad = packages.filter((p) => NOT_IN_CORE.some((n) => (n.endsWith('/') ? p.startsWith(n) : p === n)));
      coreLine = `core loads ${own} files and ${packages.length} packages (${packages.join(', ')})`;
    }
  }
  if (coreBad.length > 0) fail(`importing '${pkg.name}' loads ${coreBad.join(', ')} (none of ${NOT_IN_CORE.join(', ')} may load with the core)`);
  return coreLine;
});

// ── (c) types: a consumer .ts with skipLibCheck off ──────────────────────────────────────────────────────
await step('types', () => {
  if (!installed) fail('not installed');
  write('consumer.ts', `import { createEngine, createModels, isTopologyError, topology, type Engine } from '${pkg.name}';
import { createRegistry, parseTopology } from '${pkg.name}/documents';
import { createOpenAIProvider } from '${pkg.name}/providers';
import { gptTokenCounter } from '${pkg.name}/tokenizer';
import { createMemoryTransport, type Transport } from '${pkg.name}/transport';
import { createKafkaTransport } from '${pkg.name}/kafka';
import { createClient, createWorker, type Worker } from '${pkg.name}/worker';
import { traceEvents } from '${pkg.name}/otel';
import { recordEvents, scriptedProvider } from '${pkg.name}/testing';

const hello = topology('hello')
  .map('greet', { run: ({ input }) => \`hello, \${String(input)}\` })
  .map('shout', { after: ['greet'], run: ({ deps }) => deps.greet.toUpperCase() })
  .build({ output: 'shout' });

export async function main(): Promise<string> {
  const models = createModels({ providers: [scriptedProvider('fake', [{ text: 'hi' }])], countTokens: gptTokenCounter });
  const engine: Engine = createEngine({ models });
  const rec = recordEvents(engine);
  const result = await engine.run(hello, 'world');
  rec.stop();
  await engine.shutdown();
  if (result.status === 'completed') {
    const text: string = result.output;
    return text;
  }
  if (isTopologyError(result.error)) return result.error.issues.map((i) => i.message).join('; ');
  return result.error.message;
}

export const pieces = {
  registry: createRegistry(),
  parsed: parseTopology,
  openai: createOpenAIProvider,
  memory: (): Transport => createMemoryTransport(),
  kafka: createKafkaTransport,
  worker: createWorker,
  client: createClient,
  trace: traceEvents,
};
export type { Worker };
`);
  const base = { strict: true, skipLibCheck: false, noEmit: true };
  const configs = {
    'nodenext strict': { compilerOptions: { module: 'nodenext', ...base }, include: ['consumer.ts'] },
    'tsc --init': { extends: './init/tsconfig.json', compilerOptions: { types: ['node'], ...base }, include: ['consumer.ts'] },
    'bundler strict': { compilerOptions: { module: 'preserve', moduleResolution: 'bundler', target: 'es2022', ...base }, include: ['consumer.ts'] },
  };
  // `tsc --init` as TypeScript ships it (5.9: nodenext, esnext, exactOptionalPropertyTypes,
  // noUncheckedIndexedAccess, verbatimModuleSyntax, …), with @types/node, as a Node project has.
  mkdirSync(path.join(project, 'init'), { recursive: true });
  const tsc = path.join(project, 'node_modules/typescript/bin/tsc');
  run(process.execPath, [tsc, '--init'], { cwd: path.join(project, 'init') });
  const failures = [];
  const lines = [];
  for (const [name, config] of Object.entries(configs)) {
    const file = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
    write(file, JSON.stringify(config, null, 2));
    const r = spawnSync(process.execPath, [tsc, '-p', file], { cwd: project, encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`.trim();
    const errors = (out.match(/error TS\d+/g) ?? []).length;
    lines.push(`${name}: ${errors} error(s)`);
    log(`  ${name} (${file}): ${errors} error(s)`);
    if (r.status !== 0) failures.push(`${name}: tsc exited with ${r.status}, ${errors} error(s):\n${indent(out.split('\n').slice(0, 30).join('\n'))}`);
  }
  if (failures.length > 0) fail(failures.join('\n'));
  return lines.join(', ');
});

// ── (d) bundle: esbuild ──────────────────────────────────────────────────────────────────────────────────
await step('bundle', async () => {
  if (!installed) fail('not installed');
  const esbuild = await import(path.join(project, 'node_modules/esbuild/lib/main.js'));
  write('kafka-worker.mjs', `import { createEngine } from '${pkg.name}';
import { createKafkaTransport } from '${pkg.name}/kafka';
import { createClient, createWorker } from '${pkg.name}/worker';
const engine = createEngine();
const transport = createKafkaTransport({ brokers: ['127.0.0.1:9'] });
console.log(typeof createWorker, typeof createClient, typeof transport.close, typeof engine.run);
`);
  const common = {
    bundle: true, platform: 'node', format: 'esm', target: 'node20', minify: true, metafile: true, logLevel: 'silent',
    absWorkingDir: project,
    // CommonJS dependencies (kafkajs, avsc, pino) call require(); an ESM bundle needs one to hand them.
    banner: { js: "import { createRequire as __llmoRequire } from 'node:module'; const require = __llmoRequire(import.meta.url);" },
  };
  const sizes = {};
  for (const [name, entry] of [['core', 'hello.mjs'], ['kafka+worker', 'kafka-worker.mjs']]) {
    const outfile = path.join(project, 'out', entry);
    const r = await esbuild.build({ ...common, entryPoints: [entry], outfile });
    for (const w of r.warnings) log(`  esbuild warning (${name}): ${w.text}`);
    sizes[name] = statSync(outfile).size;
    const inputs = {};
    for (const [file, info] of Object.entries(r.metafile.outputs[path.relative(project, outfile)].inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
      const key = m ? m[1] : file;
      inputs[key] = (inputs[key] ?? 0) + info.bytesInOutput;
    }
    const top = Object.entries(inputs).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${kb(v)}`).join(', ');
    log(`  ${name}: ${kb(sizes[name])} minified (${top})`);
  }
  const ran = node([path.join('out', 'hello.mjs')]).trim();
  log(`  core bundle runs: ${ran}`);
  // The Kafka bundle has no size limit, and must run: the Avro schemas are compiled in (no file reads).
  const k = spawnSync(process.execPath, [path.join('out', 'kafka-worker.mjs')], { cwd: project, encoding: 'utf8', timeout: 30_000 });
  if (k.status !== 0) fail(`the kafka+worker bundle does not run (exit ${k.status}): ${`${k.stderr}`.trim().split('\n').find((l) => /Error/.test(l)) ?? `${k.stderr}`.trim().split('\n')[0]}`);
  log(`  kafka+worker bundle runs: ${k.stdout.trim()}`);
  if (sizes.core > CORE_BUNDLE_LIMIT) fail(`the core hello-world bundle is ${kb(sizes.core)}, over the ${kb(CORE_BUNDLE_LIMIT)} limit`);
  return `core ${kb(sizes.core)} (limit ${kb(CORE_BUNDLE_LIMIT)}), kafka+worker ${kb(sizes['kafka+worker'])}`;
});

// ── bin ──────────────────────────────────────────────────────────────────────────────────────────────────
await step('bin', () => {
  if (!installed) fail('not installed');
  const out = node([path.join('node_modules', '.bin', 'llmo'), '--help']);
  if (!/run/.test(out)) fail(`\`llmo --help\` printed no commands:\n${indent(out)}`);
  return '`llmo --help` runs';
});

// ── summary ──────────────────────────────────────────────────────────────────────────────────────────────
const failed = results.filter((r) => !r.ok);
log(`\n── summary (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
for (const r of results) log(`${r.ok ? '✓' : '✗'} ${r.name.padEnd(10)} ${(r.ms / 1000).toFixed(1).padStart(5)} s  ${r.detail ?? ''}`);
if (failed.length === 0 && !args.keep) rmSync(scratch, { recursive: true, force: true });
else log(`scratch kept: ${scratch}`);
log(`check-package: ${failed.length === 0 ? 'passed' : `FAILED (${failed.map((r) => r.name).join(', ')})`}`);
process.exitCode = failed.length === 0 ? 0 : 1;
