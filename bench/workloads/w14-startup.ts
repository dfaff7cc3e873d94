/**
 * W14: start-up of the `llmo` CLI, against `node -e 0` on the same machine in the same run.
 * Spawns the built CLI (bin/llmo.mjs runs dist/), so `npm run build` must have run.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Workload } from '../lib/types.ts';
import { median } from '../lib/stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Probe {
  readonly key: 'node' | 'help' | 'validate';
  readonly args: readonly string[];
  /** Text stdout must contain (the command did its job). */
  readonly expect: string;
}

const PROBES: readonly Probe[] = [
  { key: 'node', args: ['-e', '0'], expect: '' },
  { key: 'help', args: ['bin/llmo.mjs', '--help'], expect: 'Usage: llmo' },
  { key: 'validate', args: ['bin/llmo.mjs', 'validate', 'topologies/rag.yaml'], expect: "topology 'rag-yaml' is valid" },
];

/** Wall ms from spawn to exit of `node <args>`; throws unless it exits 0 with the expected output. */
function timeOnce(p: Probe): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...p.args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0 || !out.includes(p.expect)) reject(new Error(`node ${p.args.join(' ')} exited ${code}: ${(err || out).slice(0, 400)}`));
      else resolve(ms);
    });
  });
}

export const workload: Workload = {
  id: 'w14',
  title: 'CLI start-up: `llmo --help` and `llmo validate topologies/rag.yaml` vs `node -e 0`',
  description: 'Wall time from spawn to exit of `node -e 0`, `node bin/llmo.mjs --help` and `node bin/llmo.mjs validate topologies/rag.yaml` (YAML topology whose ops module is TypeScript, so tsx is registered on demand), interleaved in the same run after one warm-up each (tsx and compile caches warm); median over 11 rounds (quick: 3). Ratios are to `node -e 0`. Needs `npm run build` (the CLI runs from dist/). llm-orchestrator only.',
  metrics: [
    { name: 'node_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'help_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'validate_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'help_ratio', unit: '×', better: 'lower', ratio: false },
    { name: 'validate_ratio', unit: '×', better: 'lower', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'help_ratio', op: '<=', value: 3, label: '--help ≤ 3× node -e 0' },
    { kind: 'value', metric: 'validate_ratio', op: '<=', value: 5, label: 'validate rag.yaml ≤ 5× node -e 0' },
  ],
  systems: () => ['llm-orchestrator'],
  skip: () => (existsSync(path.join(root, 'dist/src/cli/main.js')) ? undefined : 'dist/ is missing: run `npm run build` first'),
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 180_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w14 measures the llmo CLI, not ${ctx.system.id}`);
    for (const p of PROBES) await timeOnce(p); // warm-up: disk caches (tsx transforms, Node's compile cache)
    const rounds = ctx.mode === 'quick' ? 3 : 11;
    const times = new Map<Probe['key'], number[]>(PROBES.map((p) => [p.key, []]));
    for (let r = 0; r < rounds; r++) {
      // rotate the order so no command always runs right after another
      for (let j = 0; j < PROBES.length; j++) {
        const p = PROBES[(r + j) % PROBES.length]!;
        times.get(p.key)!.push(await timeOnce(p));
      }
    }
    const node = median(times.get('node')!);
    const help = median(times.get('help')!);
    const validate = median(times.get('validate')!);
    ctx.log(`node -e 0 ${node.toFixed(0)} ms, --help ${help.toFixed(0)} ms (${(help / node).toFixed(2)}×), validate rag.yaml ${validate.toFixed(0)} ms (${(validate / node).toFixed(2)}×)`);
    return { node_ms: node, help_ms: help, validate_ms: validate, help_ratio: help / node, validate_ratio: validate / node };
  },
};
