/**
 * What every compared system implements. Workloads are written once against
 * this interface; each system wraps the very same node closures, so the only
 * difference measured is the orchestration around them.
 * @module
 */
import type { Provider } from '../../src/providers/types.ts';

/** A node's work: every system calls exactly these closures. */
export type NodeFn = (x: number) => Promise<number>;
/** Combines the outputs of parallel branches, given in branch order. */
export type JoinFn = (values: readonly number[]) => Promise<number>;
/** One run of a compiled DAG: input in, declared output out. Rejects when the run did not complete. */
export type RunFn = (input: number) => Promise<number>;

/** Options of a compiled DAG. */
export interface DagOptions {
  /** Runs that may be in flight at once (only llm-orchestrator has admission control; others ignore it). */
  readonly maxInFlight: number;
}

/** A running capped stream (W6). */
export interface Pump {
  /** Stops pulling, abandons what is in flight, resolves once stopped. */
  stop(): Promise<void>;
  /** Runs currently admitted by the system itself, when it can say (llm-orchestrator: `engine.inFlight`). */
  admitted?(): number;
}

/** Definition and compilation of a DAG, timed separately (W7). */
export interface Definer<P, E = unknown> {
  /** Untimed per-iteration setup (llm-orchestrator: a fresh engine). */
  setup(): E;
  /** Defines (and where the system does so, validates) the DAG, without compiling. */
  define(fns: readonly NodeFn[], env: E): P;
  /** Compiles a defined DAG into something runnable. */
  compile(defined: P, env: E): RunFn;
}

export interface SystemAdapter extends SystemExtras, DurableExtras {
  readonly id: string;
  /** A linear chain: node k+1 gets node k's output; node 0 gets the run input. */
  chain(fns: readonly NodeFn[], options: DagOptions): RunFn;
  /** `source` → every branch in parallel (each gets the source's output) → `join` (gets all branch outputs). */
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn, options: DagOptions): RunFn;
  /**
   * Pulls inputs from `source` into one stage running `work` with at most `cap`
   * calls at once, calling `onResult` with every output, until stopped.
   */
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump;
  /** Present for systems that have a definition/compile step (not the hand-written baselines). */
  readonly definer?: Definer<unknown, unknown>;
}

// ------------------------------------------------------------------ token streaming (W8, W9)

/** What the streaming consumer of W8/W9 does with the tokens it reads. */
export interface TokenConsumer {
  /** Called once the consumer is subscribed to the token stream (a driven provider waits for it). */
  ready?(): void;
  /** Called by the consumer for every text token, in order; `index` counts from 0 per call. */
  token(index: number, text: string): void;
}

/** One completion streamed from the provider to the consumer, then to a sink; resolves with the token count the sink got. */
export type TokenPipe = (prompt: string) => Promise<number>;

// ------------------------------------------------------------------ resilience (W10)

/** A model call, reduced to a trivial async function. */
export type Call = () => Promise<number>;

// ------------------------------------------------------------------ Kafka (W11, W12)

/** Where a Kafka workload runs: the broker list and a topic prefix no other run uses. */
export interface KafkaSetup {
  readonly brokers: readonly string[];
  readonly prefix: string;
  log(message: string): void;
}

/** W11: tokens produced to Kafka and read back by a consumer. */
export interface KafkaTokenBench {
  /** Ways this system sends tokens; the first is the headline (`tokens_per_s`). */
  readonly variants: readonly string[];
  /**
   * Produces `runs` × `tokensPerRun` tokens the `variant` way and resolves once the
   * consumer has read back every one of them (checked: count, order and text per run).
   */
  roundTrip(variant: string, runs: number, tokensPerRun: number): Promise<void>;
  /** Disconnects and deletes the topics it created (best effort). */
  close(): Promise<void>;
}

/** W12: a worker fed by a client over Kafka. */
export interface KafkaWorkerBench {
  /** Submits `n` requests in one `submitMany` and resolves once every result arrived (checked: completed). */
  roundTrip(n: number): Promise<void>;
  close(): Promise<void>;
}

/** W12b: a worker alone (run in a process of its own), serving requests until closed. */
export interface KafkaWorkerProcess {
  /** Stops consuming, lets what is in flight finish; topics stay (the client deletes them). */
  close(): Promise<void>;
}

/** The consumer group of every system's W12/W12b workers, so a workload can watch it (members, state). */
export const WORKER_GROUP = (prefix: string): string => `${prefix}.workers`;

/** The optional capabilities of the newer workloads; a workload lists only the systems that have what it needs. */
export interface SystemExtras {
  /** W8/W9: `provider` streams one completion of `model` to a consumer (`consumer`), then to a sink. */
  tokenPipe?(provider: Provider, model: string, maxTokens: number | undefined, consumer: TokenConsumer): TokenPipe;
  /** W10: `call` wrapped the way a model call is (ours: retries, bulkhead, breaker; the baseline: not at all). */
  guard?(call: Call, bulkhead: boolean): Call;
  /** W11: token round trips through Kafka; resolves once topics exist and clients are connected. */
  kafkaTokens?(setup: KafkaSetup): Promise<KafkaTokenBench>;
  /** W12: a worker and a client over Kafka; resolves once the worker consumes. */
  kafkaWorker?(setup: KafkaSetup, maxInFlight: number): Promise<KafkaWorkerBench>;
  /** W12b: the client side of W12 alone; creates the topics, and deletes them on close. */
  kafkaClient?(setup: KafkaSetup): Promise<KafkaWorkerBench>;
  /** W12b: the worker side of W12 alone, in group {@link WORKER_GROUP}; resolves once it consumes. */
  kafkaServe?(setup: KafkaSetup, maxInFlight: number): Promise<KafkaWorkerProcess>;
}

// ------------------------------------------------------------------ durable runs (W15)

/** Where a durable workload records: the embedded file store, or a Postgres server. */
export type DurableBackend = 'sqlite' | 'postgres';

/** A fresh place for one durable measurement (made and dropped by the workload). */
export interface DurableSetup {
  readonly backend: DurableBackend;
  /** A fresh empty directory (for SQLite files). */
  readonly dir: string;
  /** A fresh lower-case identifier (the database's name for Postgres). */
  readonly name: string;
  /** postgres: the URL of a fresh, empty database of its own. */
  readonly pgUrl?: string;
  log(message: string): void;
}

/** W15: a chain whose runs are recorded step by step (checkpointed) in `setup`'s store. */
export interface DurableChain {
  /** One durable run (a fresh run/thread/workflow id per call); resolves once its result is durable. */
  readonly run: RunFn;
  /** The same chain by the same system without a store, for the overhead; absent when the system has no such mode (DBOS). */
  readonly plain?: RunFn;
  /** Closes the store or client (the workload drops the database or directory afterwards). */
  close(): Promise<void>;
}

/** W15: the durable chain capability, kept apart from {@link SystemExtras} only for grouping. */
export interface DurableExtras {
  /** A durable version of `chain(fns)`: every node's output is stored before the next node runs. */
  durableChain?(fns: readonly NodeFn[], setup: DurableSetup): Promise<DurableChain>;
}
