/**
 * W3m: the 10,000 runs of W3 parked in flight: live heap per in-flight run.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { ALL_SYSTEMS, parkedRuns } from './common.ts';

export const workload: Workload = {
  id: 'w3m',
  title: '10,000 runs parked in flight (3-node chain, node 1 awaits a gate; quick: 1,000)',
  description: '10,000 runs (quick: 1,000). Live heap after forced GC with all runs parked, minus live heap before they started, per run. Includes each run\'s pending promise and its parked node closure (the same for every system).',
  metrics: [
    { name: 'kb_per_run', unit: 'KB', better: 'lower' },
    { name: 'park_ms', unit: 'ms', better: 'lower' },
    { name: 'peak_heap_mb', unit: 'MB', better: 'lower', ratio: false },
    { name: 'rss_mb', unit: 'MB', better: 'lower', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'kb_per_run', op: '<=', value: 3, label: '≤ 3 KB per in-flight run' }],
  systems: () => ALL_SYSTEMS,
  // Parking and then finishing 10,000 LangGraph runs takes ~40 s here: two repetitions keep the full run under 15 minutes.
  repsFor: (system, mode, reps) => (system === 'langgraph' && mode === 'full' ? Math.min(reps, 2) : reps),
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 120_000),
  run: (ctx) => parkedRuns(ctx, ctx.mode === 'quick' ? 1_000 : 10_000),
};
