/**
 * Fair share between tenants at admission and at a stage's cap: a tenant that floods the
 * engine does not starve another. Waits are counted in completed runs, not time, so the
 * test is exact: each run holds its slot until the test completes it, one at a time.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, topology } from '../src/index.ts';

async function waitsOf(load: readonly { tenant: string; runs: number }[], tenantOfInterest: string): Promise<number[]> {
  const open: (() => void)[] = [];
  let completed = 0;
  const startedAfter = new Map<string, number[]>();
  const t = topology('fair', { maxInFlight: 10 })
    .map('work', {
      run: (ctx) => new Promise<number>((resolve) => {
        const tenant = (ctx.input as { tenant: string }).tenant;
        (startedAfter.get(tenant) ?? startedAfter.set(tenant, []).get(tenant)!).push(completed);
        open.push(() => resolve(1));
      }),
    })
    .build({ output: 'work' });
  const engine = createEngine();
  const all: Promise<unknown>[] = [];
  for (const { tenant, runs } of load) for (let k = 0; k < runs; k++) all.push(engine.run(t, { tenant }, { tenant }));
  while (completed < all.length) {
    await new Promise((r) => setImmediate(r));
    const next = open.shift();
    if (next === undefined) continue;
    next();
    completed++;
  }
  await Promise.all(all);
  await engine.shutdown();
  return startedAfter.get(tenantOfInterest) ?? [];
}

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;

describe('fair share between tenants', () => {
  it("tenant B's 100 runs are not queued behind tenant A's 10,000: B gets every other free slot", async () => {
    const alone = await waitsOf([{ tenant: 'B', runs: 100 }], 'B');
    const mixed = await waitsOf([{ tenant: 'A', runs: 10_000 }, { tenant: 'B', runs: 100 }], 'B');
    expect(mixed).toHaveLength(100);
    // alone, B's runs wait for B's own: p99 = 89 completions (10 slots, the first 10 start at once). Sharing the
    // slots equally with A, B gets every other one, so each wait doubles, the first 10 included: 2 x (89 + 10).
    // FIFO would put B behind all 10,000 of A's runs.
    expect(p99(alone)).toBe(89);
    expect(p99(mixed)).toBeLessThanOrEqual(2 * (p99(alone) + 10));
    expect(Math.max(...mixed)).toBeLessThan(250);
  }, 60_000);
});
