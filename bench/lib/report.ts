/**
 * The report: machine info, package versions, summaries, ratios, targets, and
 * the Markdown rendering.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { OURS, type MetricSpec, type SystemId, type Target, type Workload } from './types.ts';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  v8: string;
  heapLimitMiB: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    heapLimitMiB: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
    loadAvgStart: os.loadavg().map(round2),
    loadAvgEnd: [],
  };
}

const PACKAGES = ['rxjs', 'zod', 'tsx', '@langchain/langgraph', '@langchain/core', '@mastra/core'];

export function packageVersions(root: string): Record<string, string> {
  const read = (file: string): string => {
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      return 'not installed';
    }
  };
  let ours = read(path.join(root, 'package.json'));
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'operators'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    ours += ` (${commit}${dirty ? ', uncommitted changes in src/operators' : ''})`;
  } catch {
    // not a git checkout
  }
  const out: Record<string, string> = { 'llm-orchestrator': ours, node: process.version };
  for (const p of PACKAGES) out[p] = read(path.join(root, 'node_modules', p, 'package.json'));
  return out;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** One summarised metric of one system. */
export interface ResultRow {
  workload: string;
  system: SystemId;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  n: number;
}

/** ours ÷ baseline, computed within each repetition, summarised. */
export interface RatioRow {
  workload: string;
  metric: string;
  system: SystemId;
  baseline: SystemId;
  median: number;
  min: number;
  max: number;
  n: number;
}

export interface TargetRow {
  workload: string;
  label: string;
  metric: string;
  kind: 'value' | 'ratio';
  baseline?: SystemId;
  threshold: number;
  op: string;
  /** Median the target is judged on (undefined when not measured). */
  value: number | undefined;
  pass: boolean | undefined;
  /** Why the workload was skipped (then value and pass are undefined). */
  skipped?: string;
}

/** A workload that did not run, and why (e.g. no Kafka broker configured). */
export interface SkipRow {
  workload: string;
  reason: string;
}

export interface ErrorRow {
  workload: string;
  system: SystemId;
  rep: number;
  error: string;
  /** True when the workload records failure metrics for it (e.g. W5 `survived: 0`). */
  counted: boolean;
}

export interface Report {
  run: { mode: string; reps: number; library?: string; startedAt: string; durationS: number; argv: string[] };
  machine: MachineInfo;
  versions: Record<string, string>;
  results: ResultRow[];
  ratios: RatioRow[];
  targets: TargetRow[];
  errors: ErrorRow[];
  skipped: SkipRow[];
}

export function judge(t: Target, value: number | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  switch (t.op) {
    case '<=': return value <= t.value;
    case '<': return value < t.value;
    case '>=': return value >= t.value;
    case '==': return value === t.value;
  }
}

/** Three significant digits, no exponent for everyday magnitudes. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (Number.isInteger(x)) return a >= 1000 ? x.toLocaleString('en-US') : String(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** A ratio in words, by the metric's direction: "12× faster", "1.3× worse", "even". */
export function reading(ratio: number, spec: MetricSpec | undefined): string {
  if (spec === undefined || spec.better === 'none') return '';
  const good = spec.better === 'lower' ? ratio < 1 : ratio > 1;
  const factor = ratio >= 1 ? ratio : 1 / ratio;
  if (Math.abs(factor - 1) < 0.02) return 'even';
  const word = spec.unit === 'µs' || spec.unit === 'ms' ? (good ? 'faster' : 'slower') : good ? 'better' : 'worse';
  return `${fmt(factor)}× ${word}`;
}

const range = (r: { median: number; min: number; max: number; n: number }): string =>
  r.n > 1 && fmt(r.min) !== fmt(r.max) ? `${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)})` : fmt(r.median);

const metricSpec = (workloads: readonly Workload[], t: TargetRow): MetricSpec | undefined =>
  workloads.find((w) => w.id === t.workload)?.metrics.find((x) => x.name === t.metric);

const targetText = (t: TargetRow): string =>
  t.skipped !== undefined ? 'skipped' : t.pass === undefined ? 'n/a' : t.pass ? '**PASS**' : '**MISS**';

/** `w3m` → `W3m`. */
export const wid = (id: string): string => `W${id.slice(1)}`;

export function renderMarkdown(report: Report, workloads: readonly Workload[]): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(`# llm-orchestrator benchmarks — ${report.run.startedAt.slice(0, 10)} (${report.run.mode})`, '');
  lines.push(`Started ${report.run.startedAt}, took ${Math.round(report.run.durationS)} s; ${report.run.reps} repetition(s) per measurement, each in a fresh \`node --expose-gc\` process, systems interleaved and rotated within each repetition. Values are the median over repetitions with min–max in brackets; ratios are ours ÷ the baseline that ran in the same repetition. ${report.run.library === 'source' ? 'llm-orchestrator ran from its TypeScript source through tsx (`--library source`), not as built.' : 'llm-orchestrator ran as users install it: the JavaScript `npm run build` writes to dist/.'}`, '');
  lines.push('## Machine', '');
  lines.push('| | |', '| --- | --- |');
  lines.push(`| CPU | ${m.cpu} |`, `| cores | ${m.cores} |`, `| memory | ${m.memoryGiB} GiB |`, `| OS | ${m.platform} |`);
  lines.push(`| Node | ${m.node} (V8 ${m.v8}), heap limit ${m.heapLimitMiB} MiB |`);
  lines.push(`| load average (1/5/15 min) at start | ${m.loadAvgStart.join(' / ')} |`, `| load average at end | ${m.loadAvgEnd.join(' / ')} |`, '');
  lines.push('## Versions', '', '| package | version |', '| --- | --- |');
  for (const [k, v] of Object.entries(report.versions)) lines.push(`| ${k} | ${v} |`);
  lines.push('');

  lines.push('## Targets (llm-orchestrator)', '', '| workload | target | measured (median) | result |', '| --- | --- | --- | --- |');
  for (const t of report.targets) {
    const unit = t.kind === 'ratio' ? `× ${t.baseline}` : (workloads.find((w) => w.id === t.workload)?.metrics.find((x) => x.name === t.metric)?.unit ?? '');
    const measured = t.skipped !== undefined ? `skipped (see ${wid(t.workload)})`
      : t.value === undefined ? 'not measured'
      : t.kind === 'ratio' ? `${fmt(t.value)} ${unit} (${reading(t.value, metricSpec(workloads, t))})`
      : unit === 'bool' ? (t.value === 1 ? 'yes' : 'no')
      : `${fmt(t.value)} ${unit}`;
    lines.push(`| ${wid(t.workload)} | ${t.label} | ${measured} | ${targetText(t)} |`);
  }
  lines.push('');

  for (const w of workloads) {
    const rows = report.results.filter((r) => r.workload === w.id);
    const errs = report.errors.filter((e) => e.workload === w.id);
    const skip = report.skipped.find((x) => x.workload === w.id);
    if (rows.length === 0 && errs.length === 0 && skip === undefined) continue;
    lines.push(`## ${wid(w.id)} — ${w.title}`, '', w.description, '');
    if (skip !== undefined) {
      lines.push(`**Skipped:** ${skip.reason}`, '');
      continue;
    }
    const systems = [...new Set(rows.map((r) => r.system))];
    const metrics = w.metrics.filter((x) => rows.some((r) => r.metric === x.name));
    lines.push(`| system | ${metrics.map((x) => `${x.name} (${x.unit})`).join(' | ')} |`);
    lines.push(`| --- | ${metrics.map(() => '---').join(' | ')} |`);
    for (const s of systems) {
      const cells = metrics.map((x) => {
        const r = rows.find((y) => y.system === s && y.metric === x.name);
        return r === undefined ? '—' : range(r);
      });
      lines.push(`| ${s === OURS ? `**${s}**` : s} | ${cells.join(' | ')} |`);
    }
    lines.push('');
    const ratios = report.ratios.filter((r) => r.workload === w.id);
    if (ratios.length > 0) {
      lines.push('| metric | llm-orchestrator ÷ | ratio | reading |', '| --- | --- | --- | --- |');
      for (const r of ratios) lines.push(`| ${r.metric} | ${r.baseline} | ${range(r)} | ${reading(r.median, w.metrics.find((x) => x.name === r.metric))} |`);
      lines.push('');
    }
    const targets = report.targets.filter((t) => t.workload === w.id);
    if (targets.length > 0) lines.push(`Targets: ${targets.map((t) => `${t.label} — ${targetText(t)}`).join('; ')}.`, '');
    if (errs.length > 0) {
      lines.push('Failed measurements:', '');
      for (const e of errs) lines.push(`- ${e.system} rep ${e.rep + 1}: ${e.error.split('\n')[0]}${e.counted ? ' (counted as a failure metric)' : ''}`);
      lines.push('');
    }
  }
  return lines.join('\n');
}
