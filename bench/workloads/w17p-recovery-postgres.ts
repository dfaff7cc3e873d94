/**
 * W17p: W17 on the PostgreSQL store. Needs LLMO_PG_URL.
 * @module
 */
import { recoveryWorkload } from './w17-recovery.ts';

export const workload = recoveryWorkload('postgres');
