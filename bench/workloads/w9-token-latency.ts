/**
 * W9: added latency from a provider's token to the downstream streaming
 * consumer (p50, p99).
 * @module
 */
import { Observable } from 'rxjs';
import type { Provider, ProviderEvent } from '../../src/providers/types.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { percentileSorted } from '../lib/stats.ts';

/** Tokens per run. */
const TOKENS = 500;
/** Least time between two tokens, ms. */
const GAP_MS = 0.1;
/** A token not received after this long fails the measurement, ms. */
const STALL_MS = 2000;

/** What the driver and the consumer share: send times by token index, what arrived. */
interface Probe {
  ready: boolean;
  received: number;
  readonly sentAt: Float64Array;
}

/**
 * A provider whose stream we drive: one text token at a time, each stamped with
 * performance.now() right before it is emitted, the next one only after the
 * consumer received the previous one and at least GAP_MS later (a setImmediate
 * loop), and the first only once the consumer is subscribed.
 */
function drivenProvider(probe: () => Probe): Provider {
  return {
    name: 'driven',
    stream: () => new Observable<ProviderEvent>((subscriber) => {
      const p = probe();
      subscriber.next({ type: 'response', status: 200, rateLimit: {} });
      let k = 0;
      let last = performance.now();
      let stopped = false;
      const step = (): void => {
        if (stopped || subscriber.closed) return;
        const now = performance.now();
        if (p.ready && p.received === k && now - last >= GAP_MS) {
          if (k === TOKENS) {
            subscriber.next({ type: 'finish', reason: 'stop' });
            subscriber.next({ type: 'usage', usage: { inputTokens: 1, outputTokens: TOKENS, cachedTokens: 0, reasoningTokens: 0 } });
            subscriber.complete();
            return;
          }
          last = performance.now();
          p.sentAt[k] = last;
          subscriber.next({ type: 'text', text: ' tok' });
          k++;
        } else if (now - last > STALL_MS) {
          subscriber.error(new Error(`token ${k - 1} not received after ${STALL_MS} ms`));
          return;
        }
        setImmediate(step);
      };
      setImmediate(step);
      return () => { stopped = true; };
    }),
  };
}

export const workload: Workload = {
  id: 'w9',
  title: 'Token latency: provider token → streaming consumer',
  description: `A provider driven by the benchmark emits one token at a time, stamped with performance.now() just before it is emitted; the next token follows once the consumer got the previous one and at least ${GAP_MS * 1000} µs later (setImmediate loop). The consumer records now − stamp. llm-orchestrator: \`llm\` node → \`map\` node with \`streamFrom\` reading \`ctx.tokens()\` → sink. Raw RxJS: the same provider subscribed directly. ${TOKENS} tokens per run; 20 runs (quick: 4) after 2 warm-up runs. Nearest-rank percentiles over every token.`,
  metrics: [
    { name: 'p50_us', unit: 'µs', better: 'lower' },
    { name: 'p99_us', unit: 'µs', better: 'lower' },
    { name: 'max_us', unit: 'µs', better: 'lower', ratio: false },
    { name: 'samples', unit: 'tokens', better: 'none', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'p99_us', op: '<=', value: 100, label: 'p99 ≤ 100 µs' }],
  systems: () => ['llm-orchestrator', 'rxjs'],
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const runs = ctx.mode === 'quick' ? 4 : 20;
    const warm = 2;
    const lat = new Float64Array(runs * TOKENS);
    let n = 0;
    let measuring = false;
    let probe: Probe = { ready: false, received: 0, sentAt: new Float64Array(TOKENS) };
    const pipe = ctx.system.tokenPipe?.(drivenProvider(() => probe), 'm', undefined, {
      ready: () => { probe.ready = true; },
      token: (index) => {
        const now = performance.now();
        if (measuring) lat[n++] = now - probe.sentAt[index]!;
        probe.received++;
      },
    });
    if (pipe === undefined) throw new Error(`${ctx.system.id} cannot stream tokens`);
    for (let r = 0; r < warm + runs; r++) {
      measuring = r >= warm;
      probe = { ready: false, received: 0, sentAt: new Float64Array(TOKENS) };
      check(await pipe(`latency run ${r}`), TOKENS, `tokens of run ${r}`);
      check(probe.received, TOKENS, `tokens received in run ${r}`);
    }
    check(n, runs * TOKENS, 'samples');
    const sorted = lat.sort();
    return {
      p50_us: percentileSorted(sorted, 50) * 1000,
      p99_us: percentileSorted(sorted, 99) * 1000,
      max_us: sorted[sorted.length - 1]! * 1000,
      samples: n,
    };
  },
};
