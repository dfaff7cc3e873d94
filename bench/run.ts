/**
 * Benchmark harness. Runs every (workload, system) measurement in a fresh
 * `node --expose-gc` process, repeats, interleaves systems within each
 * repetition (rotating their order), and writes bench/results/latest.json and
 * bench/results/YYYY-MM-DD.md.
 *
 *   npm run bench                    # everything, 5 repetitions (< 15 min)
 *   npm run bench -- --quick         # smoke run, small sizes, 1 repetition (< 90 s)
 *   npm run bench -- --only w1,w3 --systems llm-orchestrator,rxjs --reps 3
 *   npm run bench -- --library source  # the TypeScript source through tsx instead of the build (dist/)
 *
 * The bench is a package of its own (bench/package.json: LangGraph, Mastra), so their peer
 * conflicts stay out of the library's install; `npm run bench` runs `npm --prefix bench ci`
 * first when bench/node_modules is missing. Typecheck: `npx tsc -p bench`.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WORKLOADS } from './workloads/index.ts';
import { summarise } from './lib/stats.ts';
import {
  fmt, judge, machineInfo, wid, packageVersions, reading, renderMarkdown,
  type ErrorRow, type RatioRow, type Report, type ResultRow, type SkipRow, type TargetRow,
} from './lib/report.ts';
import { ensureBuilt, nodeImports, type Library } from './lib/library.ts';
import { OURS, SYSTEM_IDS, type Measurement, type Mode, type SystemId, type Workload } from './lib/types.ts';

const RESULT_MARK = 'BENCH_RESULT ';
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    systems: { type: 'string' },
    verbose: { type: 'boolean', short: 'v', default: false },
    out: { type: 'string' },
    library: { type: 'string', default: 'dist' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--reps N] [--only w1,w3m] [--systems llm-orchestrator,rxjs] [--library dist|source] [--verbose] [--out DIR]
--library: dist (default) measures the package as users install it, built by npm run build (rebuilt when a source is newer);
           source runs src/ through tsx (esbuild keepNames: every named closure also costs an Object.defineProperty)
workloads: ${WORKLOADS.map((w) => w.id).join(', ')}
systems: ${SYSTEM_IDS.join(', ')}
`);
  process.exit(0);
}

if (args.library !== 'dist' && args.library !== 'source') throw new Error('--library must be dist or source');
const library: Library = args.library;
const mode: Mode = args.quick ? 'quick' : 'full';
const reps = args.reps === undefined ? (mode === 'quick' ? 1 : 5) : Number(args.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
const onlyIds = args.only?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
const unknownIds = onlyIds?.filter((id) => !WORKLOADS.some((w) => w.id === id)) ?? [];
if (unknownIds.length > 0) throw new Error(`unknown workload(s): ${unknownIds.join(', ')}`);
const systemFilter = args.systems?.split(',').map((s) => s.trim()).filter(Boolean);
const badSystems = systemFilter?.filter((s) => !(SYSTEM_IDS as readonly string[]).includes(s)) ?? [];
if (badSystems.length > 0) throw new Error(`unknown system(s): ${badSystems.join(', ')}`);
const workloads = WORKLOADS.filter((w) => onlyIds === undefined || onlyIds.includes(w.id));
const outDir = path.resolve(args.out ?? path.join(here, 'results'));

interface ChildOutcome {
  ok: boolean;
  metrics?: Measurement;
  error?: string;
  ms: number;
}

/** Runs one measurement in a fresh process. */
function measure(w: Workload, system: SystemId, rep: number): Promise<ChildOutcome> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    ['--expose-gc', ...(w.nodeFlags ?? []), ...nodeImports(library), path.join(here, 'child.ts'), w.id, system, mode, String(rep)],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LLMO_BENCH_LIBRARY: library } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    if (args.verbose) process.stderr.write(d);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, w.timeoutMs(mode));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code === 0 && line !== undefined) {
        resolve({ ok: true, metrics: JSON.parse(line.slice(RESULT_MARK.length)) as Measurement, ms });
        return;
      }
      const why = timedOut ? `timed out after ${w.timeoutMs(mode) / 1000} s`
        : signal !== null ? `killed by ${signal}`
        : `exited with code ${code}`;
      const tail = stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-6).join('\n');
      resolve({ ok: false, error: `${why}${tail ? `: ${tail}` : ''}`, ms });
    });
  });
}

const rotate = <T>(xs: readonly T[], k: number): T[] => {
  const s = xs.length === 0 ? 0 : k % xs.length;
  return [...xs.slice(s), ...xs.slice(0, s)];
};

/** The entries of `versions` naming an installed package (not `llm-orchestrator` or `node`). */
const installedIn = (versions: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(versions).filter(([k, v]) => k !== 'llm-orchestrator' && k !== 'node' && v !== 'not installed'));

const line = (m: Measurement | undefined): string =>
  m === undefined ? '' : Object.entries(m).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');

async function main(): Promise<void> {
  const startedAt = new Date();
  const t0 = performance.now();
  if (library === 'dist' && ensureBuilt()) process.stdout.write('built dist/ (npm run build): the bench measures the package as users install it\n');
  const machine = machineInfo();
  // The comparison systems are the bench package's own dependencies (bench/node_modules); the rest
  // (rxjs, zod, tsx) resolve from the root. Report the copy the children actually load: the nearest.
  const versions = { ...packageVersions(root), ...installedIn(packageVersions(here)) };
  process.stdout.write(`llm-orchestrator bench (${mode}, ${reps} rep(s), library from ${library === 'dist' ? 'dist/' : 'src/ through tsx'}) on ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAvgStart.join(' ')}\n`);

  /** samples[workload][system][rep] */
  const samples = new Map<string, Map<SystemId, (Measurement | undefined)[]>>();
  const errors: ErrorRow[] = [];
  const skipped: SkipRow[] = [];

  for (const w of workloads) {
    const reason = w.skip?.(mode);
    if (reason !== undefined) {
      skipped.push({ workload: w.id, reason });
      samples.set(w.id, new Map());
      process.stdout.write(`\n${wid(w.id)} ${w.title}\n  skipped: ${reason}\n`);
      continue;
    }
    const systems = systemFilter === undefined ? w.systems(mode) : (w.capable ?? w.systems(mode)).filter((s) => systemFilter.includes(s));
    const perSystem = new Map<SystemId, (Measurement | undefined)[]>(systems.map((s) => [s, []]));
    samples.set(w.id, perSystem);
    process.stdout.write(`\n${wid(w.id)} ${w.title}\n`);
    for (let rep = 0; rep < reps; rep++) {
      for (const s of rotate(systems, rep)) {
        if (w.repsFor !== undefined && rep >= w.repsFor(s, mode, reps)) continue;
        const r = await measure(w, s, rep);
        const label = `  rep ${rep + 1}/${reps} ${s.padEnd(16)} ${(r.ms / 1000).toFixed(1).padStart(5)} s  `;
        if (r.ok) {
          perSystem.get(s)![rep] = r.metrics;
          process.stdout.write(`${label}${line(r.metrics)}\n`);
        } else {
          const counted = w.failure !== undefined;
          errors.push({ workload: w.id, system: s, rep, error: r.error ?? 'unknown', counted });
          if (counted) perSystem.get(s)![rep] = { ...w.failure };
          process.stdout.write(`${label}FAILED${counted ? ` (recorded as ${line(w.failure)})` : ''}: ${r.error?.split('\n')[0]}\n`);
        }
      }
    }
  }

  const results: ResultRow[] = [];
  const ratios: RatioRow[] = [];
  for (const w of workloads) {
    const perSystem = samples.get(w.id)!;
    for (const [system, reps_] of perSystem) {
      for (const metric of w.metrics) {
        const xs = reps_.flatMap((m) => (m?.[metric.name] === undefined ? [] : [m[metric.name]!]));
        if (xs.length === 0) continue;
        results.push({ workload: w.id, system, metric: metric.name, unit: metric.unit, ...summarise(xs) });
      }
    }
    const ours = perSystem.get(OURS);
    if (ours === undefined) continue;
    for (const metric of w.metrics) {
      if (metric.ratio === false) continue;
      for (const [baseline, base] of perSystem) {
        if (baseline === OURS) continue;
        const rs: number[] = [];
        for (let rep = 0; rep < reps; rep++) {
          const a = ours[rep]?.[metric.name];
          const b = base[rep]?.[metric.name];
          if (a !== undefined && b !== undefined && b !== 0) rs.push(a / b);
        }
        if (rs.length > 0) ratios.push({ workload: w.id, metric: metric.name, system: OURS, baseline, ...summarise(rs) });
      }
    }
  }

  const targets: TargetRow[] = [];
  for (const w of workloads) {
    const skip = skipped.find((x) => x.workload === w.id);
    for (const t of w.targets) {
      const value = t.kind === 'value'
        ? results.find((r) => r.workload === w.id && r.system === OURS && r.metric === t.metric)?.median
        : ratios.find((r) => r.workload === w.id && r.metric === t.metric && r.baseline === t.baseline)?.median;
      targets.push({
        workload: w.id, label: t.label, metric: t.metric, kind: t.kind,
        ...(t.kind === 'ratio' ? { baseline: t.baseline } : {}),
        threshold: t.value, op: t.op, value, pass: judge(t, value),
        ...(skip === undefined ? {} : { skipped: skip.reason }),
      });
    }
  }

  machine.loadAvgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const report: Report = {
    run: { mode, reps, library, startedAt: startedAt.toISOString(), durationS: (performance.now() - t0) / 1000, argv: process.argv.slice(2) },
    machine, versions, results, ratios, targets, errors, skipped,
  };
  mkdirSync(outDir, { recursive: true });
  const day = `${startedAt.getFullYear()}-${String(startedAt.getMonth() + 1).padStart(2, '0')}-${String(startedAt.getDate()).padStart(2, '0')}`;
  const jsonFile = path.join(outDir, 'latest.json');
  const mdFile = path.join(outDir, `${day}.md`);
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(mdFile, renderMarkdown(report, workloads));

  process.stdout.write('\nTargets (llm-orchestrator):\n');
  for (const t of targets) {
    const shown = t.value === undefined ? (t.skipped === undefined ? 'not measured' : 'skipped') : t.kind === 'ratio'
      ? `${fmt(t.value)} of ${t.baseline} (${reading(t.value, workloads.find((w) => w.id === t.workload)?.metrics.find((x) => x.name === t.metric))})`
      : fmt(t.value);
    process.stdout.write(`  ${t.workload.padEnd(4)} ${(t.skipped !== undefined ? 'skip' : t.pass === undefined ? 'n/a ' : t.pass ? 'PASS' : 'MISS')}  ${t.label}: ${shown}\n`);
  }
  for (const x of skipped) process.stdout.write(`  ${wid(x.workload)} skipped: ${x.reason}\n`);
  process.stdout.write(`\nwrote ${path.relative(root, jsonFile)} and ${path.relative(root, mdFile)} in ${report.run.durationS.toFixed(0)} s; load ${machine.loadAvgEnd.join(' ')}\n`);
  const uncounted = errors.filter((e) => !e.counted);
  if (uncounted.length > 0) {
    process.stdout.write(`${uncounted.length} measurement(s) failed (see errors in latest.json)\n`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
