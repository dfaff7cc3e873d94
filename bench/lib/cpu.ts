/**
 * CPU-time measurement for per-run overhead workloads (W19, W20): CPU time of this process, which,
 * unlike wall time, is not inflated while other processes hold the cores.
 * @module
 */

/**
 * CPU time of this process so far (user + system), µs.
 *
 * @example
 * ```ts
 * const c0 = cpuUs(); work(); const spent = cpuUs() - c0;
 * ```
 */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * CPU µs per run over `n` sequential awaited runs.
 *
 * @example
 * ```ts
 * const us = await cpuPerRun((i) => engine.run(t, i).then(() => undefined), 2_000);
 * ```
 */
export async function cpuPerRun(run: (i: number) => Promise<void>, n: number): Promise<number> {
  const c0 = cpuUs();
  for (let i = 0; i < n; i++) await run(i);
  return (cpuUs() - c0) / n;
}
