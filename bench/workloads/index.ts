/**
 * The workload registry. To add a workload, add
 * one file under bench/workloads/ exporting `workload: Workload` and list it
 * here; the harness, results JSON and Markdown pick it up.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { workload as w1 } from './w1-chain.ts';
import { workload as w2 } from './w2-fanout.ts';
import { workload as w3 } from './w3-concurrent.ts';
import { workload as w3m } from './w3m-parked.ts';
import { workload as w4 } from './w4-latency.ts';
import { workload as w5 } from './w5-parked-100k.ts';
import { workload as w6 } from './w6-stream.ts';
import { workload as w7 } from './w7-compile.ts';
import { workload as w8 } from './w8-token-throughput.ts';
import { workload as w9 } from './w9-token-latency.ts';
import { workload as w10 } from './w10-resilience.ts';
import { workload as w11 } from './w11-kafka-tokens.ts';
import { workload as w12 } from './w12-kafka-worker.ts';
import { workload as w12b } from './w12b-kafka-two-workers.ts';
import { workload as w13 } from './w13-subscriber.ts';
import { workload as w14 } from './w14-startup.ts';
import { workload as w15 } from './w15-durable-chain.ts';
import { workload as w15p } from './w15p-durable-chain-postgres.ts';
import { workload as w16 } from './w16-checkpoint-latency.ts';
import { workload as w16p } from './w16p-checkpoint-latency-postgres.ts';
import { workload as w17 } from './w17-recovery.ts';
import { workload as w17p } from './w17p-recovery-postgres.ts';
import { workload as w18 } from './w18-routing-value.ts';
import { workload as w19 } from './w19-loop-overhead.ts';
import { workload as w20 } from './w20-telemetry-overhead.ts';
import { workload as w21 } from './w21-policy-check.ts';
import { workload as w22 } from './w22-server.ts';
import { workload as w23 } from './w23-sse-fanout.ts';
import { workload as w24 } from './w24-fair-admission.ts';
import { workload as pii } from './pii-redact.ts';

export const WORKLOADS: readonly Workload[] = [w1, w2, w3, w3m, w4, w5, w6, w7, w8, w9, w10, w11, w12, w12b, w13, w14, w15, w15p, w16, w16p, w17, w17p, w18, w19, w20, w21, w22, w23, w24, pii];

export function workloadById(id: string): Workload {
  const w = WORKLOADS.find((x) => x.id === id);
  if (w === undefined) throw new Error(`unknown workload '${id}' (known: ${WORKLOADS.map((x) => x.id).join(', ')})`);
  return w;
}
