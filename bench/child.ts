/**
 * One measurement in a fresh process:
 *   node --expose-gc --import tsx bench/child.ts <workload> <system> <quick|full> <rep>
 * Prints one line `BENCH_RESULT {json}` on stdout (the metrics), or exits non-zero.
 * Diagnostics go to stderr.
 * @module
 */
import { loadSystem } from './systems/index.ts';
import { workloadById } from './workloads/index.ts';
import { SYSTEM_IDS, type Mode, type SystemId } from './lib/types.ts';

export const RESULT_MARK = 'BENCH_RESULT ';

async function main(): Promise<void> {
  const [workloadId, systemId, mode, rep] = process.argv.slice(2);
  if (workloadId === undefined || systemId === undefined || (mode !== 'quick' && mode !== 'full')) {
    throw new Error('usage: child.ts <workload> <system> <quick|full> [rep]');
  }
  if (!(SYSTEM_IDS as readonly string[]).includes(systemId)) throw new Error(`unknown system '${systemId}'`);
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('run with --expose-gc');
  const workload = workloadById(workloadId);
  const system = await loadSystem(systemId as SystemId);
  const tag = `[${workloadId}/${systemId}#${rep ?? 0}]`;
  const metrics = await workload.run({
    mode: mode as Mode,
    system,
    rep: Number(rep ?? 0),
    log: (m) => process.stderr.write(`${tag} ${m}\n`),
  });
  for (const [k, v] of Object.entries(metrics)) {
    if (!Number.isFinite(v)) throw new Error(`metric ${k} is not a finite number: ${v}`);
  }
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(metrics)}\n`);
}

main().then(
  // Peers may leave timers or handles behind; the measurement is done.
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
