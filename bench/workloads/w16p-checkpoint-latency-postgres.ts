/**
 * W16p: W16 on the PostgreSQL store. Needs LLMO_PG_URL.
 * @module
 */
import { checkpointLatencyWorkload } from './w16-checkpoint-latency.ts';

export const workload = checkpointLatencyWorkload('postgres');
