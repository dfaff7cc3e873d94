/**
 * W5: 100,000 runs parked in flight: live heap per run, and the process survives.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { parkedRuns } from './common.ts';

export const workload: Workload = {
  id: 'w5',
  title: '100,000 runs parked in flight',
  description: 'As W3m with 100,000 runs, on the default heap limit. `survived` is 0 when the process died (e.g. out of memory) or timed out.',
  metrics: [
    { name: 'kb_per_run', unit: 'KB', better: 'lower' },
    { name: 'survived', unit: 'bool', better: 'higher', ratio: false },
    { name: 'park_ms', unit: 'ms', better: 'lower' },
    { name: 'peak_heap_mb', unit: 'MB', better: 'lower', ratio: false },
    { name: 'rss_mb', unit: 'MB', better: 'lower', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'kb_per_run', op: '<=', value: 3, label: '≤ 3 KB per run' },
    { kind: 'value', metric: 'survived', op: '==', value: 1, label: 'survives' },
  ],
  // LangGraph needs ~50 KB per parked run (W3m): 100,000 runs exceed the default
  // 4 GiB heap and the process dies after minutes of GC thrashing, so it only
  // runs when asked for by name (`--only w5 --systems langgraph`). Mastra fits
  // but takes a while, so it runs once per full benchmark.
  systems: (mode) => (mode === 'quick' ? ['llm-orchestrator', 'rxjs', 'promise'] : ['llm-orchestrator', 'rxjs', 'promise', 'mastra']),
  capable: ['llm-orchestrator', 'rxjs', 'promise', 'langgraph', 'mastra'],
  repsFor: (system, _mode, reps) => (system === 'mastra' || system === 'langgraph' ? 1 : reps),
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 240_000),
  failure: { survived: 0 },
  async run(ctx) {
    return { ...(await parkedRuns(ctx, 100_000)), survived: 1 };
  },
};
