/**
 * W15p: W15 on PostgreSQL (ours, LangGraph's `PostgresSaver`, DBOS Transact). Needs LLMO_PG_URL.
 * @module
 */
import { durableChainWorkload } from './w15-durable-chain.ts';

export const workload = durableChainWorkload('postgres');
