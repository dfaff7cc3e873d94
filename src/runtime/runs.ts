/**
 * Time travel: the read side of a run store, as `engine.runs`. Lists runs, reads
 * one run's row and log, and folds a run's log into its state at any event
 * sequence number or time (outputs, statuses, usage).
 * @module
 */
import * as z from 'zod';
import { StoreError } from '../errors.ts';
import { foldRun, type FoldedRun } from './fold.ts';
import { parseOptions } from './options.ts';
import type { RunQuery, RunRecord, RunStore, StoredEvent } from './store.ts';

/**
 * Where to look at a run in {@link RunsView.stateAt}: as of event `seq` (inclusive), or
 * as of time `ts` (epoch ms, inclusive).
 *
 * @example
 * ```ts
 * const at: StateAt = { seq: 4 };
 * const then: StateAt = { ts: Date.parse('2025-01-01T12:00:00Z') };
 * ```
 */
export type StateAt = { readonly seq: number; readonly ts?: undefined } | { readonly ts: number; readonly seq?: undefined };

/**
 * A window of a run's log for {@link RunsView.history}.
 *
 * @example
 * ```ts
 * const range: HistoryRange = { fromSeq: 10, toSeq: 20 };
 * ```
 */
export interface HistoryRange {
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** Only events at or before this time (epoch ms). */
  readonly untilTs?: number;
}

const seqField = z.number().int().min(0);
const StateAtSchema = z.union([
  z.strictObject({ seq: seqField, ts: z.undefined().optional() }),
  z.strictObject({ ts: z.number().finite(), seq: z.undefined().optional() }),
], { error: 'expected { seq } or { ts }' });
const HistoryRangeSchema = z.strictObject({ fromSeq: seqField.optional(), toSeq: seqField.optional(), untilTs: z.number().finite().optional() });

/**
 * The stored runs of an engine with a store: `engine.runs`. Every method rejects with a
 * StoreError when the engine has no store (`STORE_INVALID`), the run is unknown
 * (`RUN_NOT_FOUND`, for `history` and `stateAt`) or the store fails.
 *
 * @example
 * ```ts
 * const { runs } = await engine.runs.list({ status: ['waiting'] });
 * const events = await engine.runs.history(runs[0]!.runId);
 * const before = await engine.runs.stateAt(runs[0]!.runId, { seq: 3 });
 * console.log(before.status, before.outputs);
 * ```
 */
export interface RunsView {
  /** Runs by status, topology or tenant, newest first, a page at a time. */
  list(query?: RunQuery): Promise<{ readonly runs: RunRecord[]; readonly next?: string }>;
  /** A run's row (status, lease, wait, fork parent); undefined when unknown. */
  get(runId: string): Promise<RunRecord | undefined>;
  /** A run's events in `seq` order, optionally a window of them. */
  history(runId: string, range?: HistoryRange): Promise<StoredEvent[]>;
  /** The run's state as of event `seq` or time `ts`: the fold of its log up to there. */
  stateAt(runId: string, at: StateAt): Promise<FoldedRun>;
}

/**
 * The runs view over `store` (undefined: an engine without a store, whose every call rejects).
 *
 * @example
 * ```ts
 * const runs = createRunsView(store);
 * const s = await runs.stateAt('r1', { seq: 2 });
 * ```
 */
export function createRunsView(store: RunStore | undefined): RunsView {
  const need = (): RunStore => {
    if (store === undefined) throw new StoreError('STORE_INVALID', 'engine.runs needs an engine with a store (createEngine({ store }))');
    return store;
  };
  const known = async (s: RunStore, runId: string): Promise<void> => {
    if ((await s.getRun(runId)) === undefined) throw new StoreError('RUN_NOT_FOUND', `run '${runId}' is not in the store (${s.location})`);
  };
  return {
    list: async (query) => need().listRuns(query),
    get: async (runId) => need().getRun(runId),
    history: async (runId, range) => {
      const s = need();
      const r = range === undefined ? undefined : parseOptions(HistoryRangeSchema, range, 'history range');
      await known(s, runId);
      if (r === undefined) return s.history(runId);
      const w: { fromSeq?: number; toSeq?: number; untilTs?: number } = {};
      if (r.fromSeq !== undefined) w.fromSeq = r.fromSeq;
      if (r.toSeq !== undefined) w.toSeq = r.toSeq;
      if (r.untilTs !== undefined) w.untilTs = r.untilTs;
      return s.history(runId, w);
    },
    stateAt: async (runId, at) => {
      const s = need();
      const a = parseOptions(StateAtSchema, at, 'stateAt position');
      await known(s, runId);
      const events = a.seq !== undefined ? await s.history(runId, { toSeq: a.seq }) : await s.history(runId, { untilTs: a.ts! });
      return a.seq !== undefined ? foldRun(events, { seq: a.seq }) : foldRun(events, { ts: a.ts! });
    },
  };
}
