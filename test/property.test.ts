/**
 * Property-based test of the runtime over random DAG topologies.
 *
 * fast-check generates topologies of up to 40 nodes (map, route, join and tool
 * nodes built with the exported operator factories and the builder's `.node`),
 * random stage caps, engine pools, a global concurrency limit, admission limits,
 * route choices, node failures (sync throws, rejections, unknown route branches)
 * and cancellations (pre-aborted signals, aborts from inside a running node,
 * aborts after a number of macrotask ticks), then runs 1-20 runs at once on one
 * engine with random priorities.
 *
 * Node functions are instrumented: they record start/end per run and node on a
 * logical clock shared with the engine's event bus, count live tasks per stage,
 * pool and globally, and check their `ctx.deps`. Assertions inside node
 * functions only record violations (throwing there would just fail the node);
 * they are asserted after the iteration. Delays are microtask hops and
 * setImmediate only: no wall-clock assertions. The only timer is a hang detector.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import {
  createEngine, defineTool, isCancelledError, isNodeError, join, map, route, tool, topology, validateTopology,
  type Engine, type EngineEvent, type NodeContext, type NodeDef, type Priority, type RunEvent, type RunResult, type Topology, type TopologyBuilder,
} from '../src/index.ts';

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

type Kind = 'map' | 'route' | 'join' | 'tool';
const POOLS = ['p0', 'p1', 'p2'] as const;
const MAX_NODES = 40;

interface RawParent {
  /** Parent index: v - 1 - (back % v). */
  readonly back: number;
  /** For a route parent: 0 `after` only, 1 branch target only, 2 both, 3 target of two branches. */
  readonly mode: number;
  readonly br: number;
}
interface RawNode {
  readonly kind: Kind;
  readonly parents: readonly RawParent[];
  readonly cap: number | undefined;
  readonly pools: readonly string[];
  readonly nBranches: number;
  readonly sync: boolean;
  readonly flaky: boolean;
}

const rawNodeArb: fc.Arbitrary<RawNode> = fc.record({
  kind: fc.constantFrom<Kind>('map', 'map', 'map', 'route', 'route', 'join', 'join', 'tool'),
  parents: fc.array(fc.record({ back: fc.nat({ max: MAX_NODES - 1 }), mode: fc.nat({ max: 3 }), br: fc.nat({ max: 2 }) }), { maxLength: 3 }),
  cap: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 2 }),
  pools: fc.subarray([...POOLS]),
  nBranches: fc.integer({ min: 1, max: 3 }),
  sync: fc.boolean(),
  flaky: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
});

type Cancel =
  | { readonly kind: 'none' }
  | { readonly kind: 'pre' }
  | { readonly kind: 'onNode'; readonly node: number; readonly hops: number }
  | { readonly kind: 'ticks'; readonly ticks: number };

const cancelArb: fc.Arbitrary<Cancel> = fc.oneof(
  { arbitrary: fc.constant<Cancel>({ kind: 'none' }), weight: 8 },
  { arbitrary: fc.constant<Cancel>({ kind: 'pre' }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('onNode' as const), node: fc.nat({ max: MAX_NODES - 1 }), hops: fc.nat({ max: 3 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('ticks' as const), ticks: fc.nat({ max: 25 }) }), weight: 2 },
);

interface RunCfg {
  readonly priority: Priority;
  readonly cancel: Cancel;
  /** setImmediate ticks before `engine.run` is called. */
  readonly startTicks: number;
}
const runCfgArb: fc.Arbitrary<RunCfg> = fc.record({
  priority: fc.constantFrom<Priority>('high', 'normal', 'low'),
  cancel: cancelArb,
  startTicks: fc.constantFrom(0, 0, 0, 1, 2),
});

interface EngineCfg {
  readonly concurrency: number | undefined;
  readonly poolSizes: readonly number[];
  readonly agingGrants: number | undefined;
  readonly maxInFlight: number | undefined;
  readonly topologyMaxInFlight: number | undefined;
}
const engineCfgArb: fc.Arbitrary<EngineCfg> = fc.record({
  concurrency: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  poolSizes: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
  agingGrants: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
  maxInFlight: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  topologyMaxInFlight: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
});

const caseArb = fc.record({
  nodes: fc.array(rawNodeArb, { minLength: 1, maxLength: MAX_NODES, size: 'medium' }),
  engine: engineCfgArb,
  runs: fc.array(runCfgArb, { minLength: 1, maxLength: 20, size: 'medium' }),
  seed: fc.integer(),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------
// Shape: the normalised DAG and its independent semantics (the oracle)
// ---------------------------------------------------------------------------

/** Gate of an incoming edge: always, or the set of branch names of a route parent. */
type Gate = 'always' | ReadonlySet<string>;

interface Shape {
  readonly n: number;
  readonly ids: string[];
  readonly kind: Kind[];
  /** `after` list (indices). */
  readonly after: number[][];
  /** Incoming edges (after + route branch targets), parent index -> gate. */
  readonly inEdges: Map<number, Gate>[];
  /** Number of branches (routes only). */
  readonly nb: number[];
  readonly cap: (number | undefined)[];
  readonly pools: string[][];
  readonly sync: boolean[];
  readonly flaky: boolean[];
  /** Nodes turned into joins because the validator rejected them as "can never run". */
  repaired: number;
}

const branchName = (k: number): string => `b${k}`;

/** Route `r`'s branches, from the incoming edges of nodes `<= upto`. */
function branchesOf(s: Shape, r: number, upto: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let k = 0; k < s.nb[r]!; k++) out[branchName(k)] = [];
  for (let v = r + 1; v <= upto; v++) {
    const g = s.inEdges[v]!.get(r);
    if (g !== undefined && g !== 'always') for (const b of g) out[b]!.push(s.ids[v]!);
  }
  return out;
}

const noop = (): undefined => undefined;

/** Plain NodeDefs of nodes 0..upto (dummy functions), for validating prefixes. */
function prefixTopology(s: Shape, upto: number): Topology {
  const nodes: NodeDef[] = [];
  for (let v = 0; v <= upto; v++) {
    const def: { -readonly [K in keyof NodeDef]: NodeDef[K] } = { id: s.ids[v]!, kind: s.kind[v]!, after: s.after[v]!.map((p) => s.ids[p]!), execute: noop };
    if (s.kind[v] === 'route') def.branches = branchesOf(s, v, upto);
    nodes.push(def);
  }
  return { name: 'prefix', nodes };
}

/**
 * Normalises raw nodes into a DAG (edges only go from lower to higher index).
 * A non-join node the validator rejects as "can never run" (its parents need two
 * different branches of one route) is turned into a join, which is always valid.
 */
function shapeOf(raw: readonly RawNode[]): Shape {
  const n = raw.length;
  const s: Shape = {
    n, ids: raw.map((_, v) => `n${v}`), kind: [], after: [], inEdges: [], nb: [], cap: [], pools: [], sync: [], flaky: [], repaired: 0,
  };
  for (let v = 0; v < n; v++) {
    const r = raw[v]!;
    let kind = r.kind;
    const after: number[] = [];
    const edges = new Map<number, Gate>();
    if (v > 0) {
      for (const p of r.parents) {
        const from = v - 1 - (p.back % v);
        if (edges.has(from)) continue;
        if (s.kind[from] === 'route') {
          const nb = s.nb[from]!;
          const b1 = branchName(p.br % nb);
          const b2 = branchName((p.br + 1) % nb);
          switch (p.mode) {
            case 0: after.push(from); edges.set(from, 'always'); break;
            case 1: edges.set(from, new Set([b1])); break;
            case 2: after.push(from); edges.set(from, new Set([b1])); break;
            default: edges.set(from, new Set([b1, b2])); break;
          }
        } else {
          after.push(from);
          edges.set(from, 'always');
        }
      }
    }
    if (kind === 'join' && edges.size === 0) kind = 'map';
    s.after.push(after);
    s.inEdges.push(edges);
    s.kind.push(kind);
    s.nb.push(kind === 'route' ? r.nBranches : 0);
    s.cap.push(r.cap);
    s.pools.push([...r.pools]);
    s.sync.push(r.sync);
    s.flaky.push(r.flaky);
    if (kind !== 'join' && edges.size >= 2) {
      const val = validateTopology(prefixTopology(s, v));
      if (!val.ok) {
        if (!val.issues.every((i) => i.message.includes('can never run'))) {
          throw new Error(`generator bug: ${val.issues.map((i) => i.message).join('; ')}`);
        }
        s.kind[v] = 'join';
        s.nb[v] = 0;
        s.repaired++;
      }
    }
    // The validator wants a join to list at least one parent in `after`.
    if (s.kind[v] === 'join' && after.length === 0) after.push([...edges.keys()][0]!);
  }
  return s;
}

/** Deterministic hash of integers to [0, 1). */
function hash(...xs: number[]): number {
  let a = 0x9e3779b9;
  for (const x of xs) {
    a = Math.imul(a ^ (x | 0), 0x85ebca6b);
    a ^= a >>> 13;
    a = Math.imul(a, 0xc2b2ae35);
    a ^= a >>> 16;
  }
  return (a >>> 0) / 2 ** 32;
}

type FailKind = 'throw' | 'badBranch' | undefined;

/** Per (run, node) decisions, independent of scheduling. */
class Decisions {
  constructor(readonly seed: number, readonly s: Shape) {}
  choice(run: number, v: number): string {
    return branchName(Math.floor(hash(this.seed, 1, run, v) * this.s.nb[v]!));
  }
  fail(run: number, v: number): FailKind {
    if (!this.s.flaky[v] || hash(this.seed, 2, run, v) >= 0.35) return undefined;
    return this.s.kind[v] === 'route' && hash(this.seed, 5, run, v) < 0.5 ? 'badBranch' : 'throw';
  }
  hops(run: number, v: number): number {
    return Math.floor(hash(this.seed, 3, run, v) * 6);
  }
  immediate(run: number, v: number): boolean {
    return hash(this.seed, 4, run, v) < 0.2;
  }
}

/** Which nodes run in a run where nothing fails: the oracle for completed runs. */
function expectedRun(s: Shape, d: Decisions, run: number): boolean[] {
  const runs: boolean[] = [];
  for (let v = 0; v < s.n; v++) {
    const edges = [...s.inEdges[v]!];
    if (edges.length === 0) {
      runs.push(true);
      continue;
    }
    const active = edges.map(([from, gate]) => runs[from]! && (gate === 'always' || gate.has(d.choice(run, from))));
    runs.push(s.kind[v] === 'join' ? active.some(Boolean) : active.every(Boolean));
  }
  return runs;
}

// ---------------------------------------------------------------------------
// Harness: instrumentation of one property iteration
// ---------------------------------------------------------------------------

interface End {
  readonly ok: boolean;
  readonly value: unknown;
  readonly clock: number;
}

interface RunRec {
  readonly idx: number;
  readonly id: string;
  readonly cfg: RunCfg;
  readonly ctl: AbortController;
  readonly starts: Map<number, number>;
  readonly ends: Map<number, End>;
  readonly skipClock: Map<number, number>;
  readonly live: RunEvent[];
  terminal: { readonly type: string; readonly clock: number } | undefined;
  /** abort() was called while the run had not ended (or before it started). */
  abortedWhileRunning: boolean;
  aborted: boolean;
}

interface Stats {
  iterations: number;
  valid: number;
  /** Topologies the validator would have rejected without the generator's repair. */
  repairedTopologies: number;
  repairedNodes: number;
  nodes: number;
  runs: Record<RunResult['status'], number>;
  nodeStarts: number;
  capSaturated: number;
  poolSaturated: number;
  globalSaturated: number;
}

class Harness {
  clock = 0;
  readonly violations: string[] = [];
  readonly byId = new Map<string, RunRec>();
  readonly liveNode: number[];
  readonly livePool = new Map<string, number>();
  liveGlobal = 0;
  liveAll = 0;
  readonly pending: Promise<unknown>[] = [];

  constructor(
    readonly s: Shape,
    readonly d: Decisions,
    readonly cfg: Case['engine'],
    readonly stats: Stats,
  ) {
    this.liveNode = new Array<number>(s.n).fill(0);
    for (const p of POOLS) this.livePool.set(p, 0);
  }

  violation(msg: string): void {
    if (this.violations.length < 50) this.violations.push(msg);
  }

  onEvent(e: EngineEvent): void {
    if (!('seq' in e)) return; // token events are not part of a run's history
    const rec = this.byId.get(e.runId);
    if (rec === undefined) return this.violation(`event for unknown run ${e.runId}`);
    const clock = ++this.clock;
    rec.live.push(e);
    if (e.type === 'node.skipped') rec.skipClock.set(this.s.ids.indexOf(e.nodeId), clock);
    if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') {
      if (rec.terminal !== undefined) this.violation(`${rec.id}: second terminal event ${e.type}`);
      rec.terminal = { type: e.type, clock };
    }
  }

  abort(rec: RunRec): void {
    if (rec.aborted) return;
    rec.aborted = true;
    if (rec.terminal === undefined) rec.abortedWhileRunning = true;
    rec.ctl.abort(new Error(`abort ${rec.id}`));
  }

  /** Start of node `v`'s function: bookkeeping and checks. */
  begin(v: number, ctx: NodeContext): RunRec | undefined {
    const s = this.s;
    const rec = this.byId.get(ctx.runId);
    if (rec === undefined) {
      this.violation(`node ${s.ids[v]} started for unknown run ${ctx.runId}`);
      return undefined;
    }
    this.clock++;
    this.stats.nodeStarts++;
    const where = `${rec.id}/${s.ids[v]}`;
    if (ctx.nodeId !== s.ids[v]) this.violation(`${where}: ctx.nodeId is ${ctx.nodeId}`);
    if (ctx.priority !== rec.cfg.priority) this.violation(`${where}: ctx.priority ${ctx.priority}, run has ${rec.cfg.priority}`);
    rec.starts.set(v, (rec.starts.get(v) ?? 0) + 1);
    if (rec.starts.get(v)! > 1) this.violation(`${where}: started ${rec.starts.get(v)} times`);
    if (rec.terminal !== undefined) this.violation(`${where}: started after the run ended (${rec.terminal.type})`);

    // Dependencies: all finished (non-join), or all settled with one active edge (join).
    let anyActive = false;
    for (const [from, gate] of s.inEdges[v]!) {
      const end = rec.ends.get(from);
      const done = end !== undefined && end.ok;
      const active = done && (gate === 'always' || gate.has(end.value as string));
      anyActive ||= active;
      if (s.kind[v] === 'join') {
        if (!done && !rec.skipClock.has(from)) this.violation(`${where}: join started before parent ${s.ids[from]} settled`);
      } else if (!done) {
        this.violation(`${where}: started before dependency ${s.ids[from]} finished`);
      } else if (!active) {
        this.violation(`${where}: started though route ${s.ids[from]} chose ${String(end.value)}`);
      }
    }
    if (s.kind[v] === 'join' && !anyActive) this.violation(`${where}: join started with no active parent`);

    // ctx.deps: exactly the `after` parents that completed, with their outputs.
    const deps = ctx.deps as Record<string, unknown>;
    const want = s.after[v]!.filter((p) => rec.ends.get(p)?.ok === true).map((p) => s.ids[p]!).sort();
    const got = Object.keys(deps).sort();
    if (want.join() !== got.join()) this.violation(`${where}: deps keys [${got.join()}], expected [${want.join()}]`);
    if (s.kind[v] !== 'join' && want.length !== s.after[v]!.length) this.violation(`${where}: non-join started with missing deps`);
    for (const id of want) {
      const p = s.ids.indexOf(id);
      if (deps[id] !== rec.ends.get(p)!.value) this.violation(`${where}: deps.${id} is ${String(deps[id])}, parent returned ${String(rec.ends.get(p)!.value)}`);
    }
    for (const p of s.after[v]!) {
      if (rec.skipClock.has(p) && Object.hasOwn(deps, s.ids[p]!)) this.violation(`${where}: deps has skipped parent ${s.ids[p]}`);
    }

    // Limits: stage cap, pools and global slot (every kind, joins included).
    this.liveAll++;
    const live = ++this.liveNode[v]!;
    const cap = s.cap[v];
    if (cap !== undefined) {
      if (live > cap) this.violation(`${where}: stage ${s.ids[v]} has ${live} live tasks, cap ${cap}`);
      if (live === cap) this.stats.capSaturated++;
    }
    for (const p of s.pools[v]!) {
      const n = this.livePool.get(p)! + 1;
      this.livePool.set(p, n);
      const size = this.cfg.poolSizes[POOLS.indexOf(p as (typeof POOLS)[number])]!;
      if (n > size) this.violation(`${where}: pool ${p} has ${n} live tasks, size ${size}`);
      if (n === size) this.stats.poolSaturated++;
    }
    const g = ++this.liveGlobal;
    const conc = this.cfg.concurrency;
    if (conc !== undefined) {
      if (g > conc) this.violation(`${where}: ${g} live tasks, concurrency ${conc}`);
      if (g === conc) this.stats.globalSaturated++;
    }

    // Cancellation from inside a running node.
    const c = rec.cfg.cancel;
    if (c.kind === 'onNode' && c.node % s.n === v) {
      if (c.hops === 0) this.abort(rec);
      else this.pending.push(hops(c.hops).then(() => this.abort(rec)));
    }
    return rec;
  }

  /** End of node `v`'s function (just before it returns or throws). */
  end(rec: RunRec | undefined, v: number, ok: boolean, value: unknown): void {
    this.liveAll--;
    this.liveNode[v]!--;
    for (const p of this.s.pools[v]!) this.livePool.set(p, this.livePool.get(p)! - 1);
    this.liveGlobal--;
    if (rec === undefined) return;
    rec.ends.set(v, { ok, value, clock: ++this.clock });
  }

  async delay(run: number, v: number): Promise<void> {
    await hops(this.d.hops(run, v));
    if (this.d.immediate(run, v)) await tick();
  }

  /** What node `v` does in run `rec`: its output, or how it fails. */
  outcome(rec: RunRec | undefined, v: number): { fail: FailKind; value: unknown } {
    if (rec === undefined) return { fail: undefined, value: undefined };
    const fail = this.d.fail(rec.idx, v);
    if (this.s.kind[v] === 'route') return { fail, value: fail === 'badBranch' ? 'no-such-branch' : this.d.choice(rec.idx, v) };
    return { fail, value: `${this.s.ids[v]}@${rec.id}` };
  }

  /** The instrumented function of node `v` (map, route select, join run). */
  fn(v: number): (ctx: NodeContext) => unknown {
    return (ctx) => {
      const rec = this.begin(v, ctx);
      const { fail, value } = this.outcome(rec, v);
      const threw = fail === 'throw';
      if (this.s.sync[v]) {
        this.end(rec, v, !threw, value);
        if (threw) throw new Error(`boom ${ctx.nodeId}`);
        return value;
      }
      return (async () => {
        await this.delay(rec?.idx ?? 0, v);
        this.end(rec, v, !threw, value);
        if (threw) throw new Error(`boom ${ctx.nodeId}`);
        return value;
      })();
    };
  }

  /** A tool node: instrumentation starts in `args` and ends in the tool's `run`. */
  toolDef(v: number, id: string, base: { after: string[]; cap?: number; pool?: string[] }): NodeDef {
    const recs = new Map<string, RunRec | undefined>();
    const probe = defineTool({
      name: `probe_${id}`,
      input: z.object({ runId: z.string() }),
      output: z.string(),
      run: async ({ runId }: { runId: string }): Promise<string> => {
        const rec = recs.get(runId);
        const { fail, value } = this.outcome(rec, v);
        if (!this.s.sync[v]) await this.delay(rec?.idx ?? 0, v);
        this.end(rec, v, fail === undefined, value);
        if (fail !== undefined) throw new Error(`boom ${id}`);
        return value as string;
      },
    });
    return tool(id, {
      ...base,
      tool: probe,
      args: (ctx: NodeContext) => {
        recs.set(ctx.runId, this.begin(v, ctx));
        return { runId: ctx.runId };
      },
    });
  }

  /** The topology, built with the operator factories and the builder's `.node`. */
  topology(maxInFlight: number | undefined): Topology {
    const s = this.s;
    let b = topology('prop', maxInFlight === undefined ? {} : { maxInFlight }) as unknown as TopologyBuilder<unknown, Record<string, unknown>>;
    for (let v = 0; v < s.n; v++) {
      const id = s.ids[v]!;
      const cap = s.cap[v];
      const base = {
        after: s.after[v]!.map((p) => s.ids[p]!),
        ...(cap === undefined ? {} : { cap }),
        ...(s.pools[v]!.length === 0 ? {} : { pool: s.pools[v]! }),
      };
      const fn = this.fn(v);
      let def: NodeDef;
      switch (s.kind[v]!) {
        case 'map': def = map(id, { ...base, run: fn }); break;
        case 'route': def = route(id, { ...base, branches: branchesOf(s, v, s.n - 1), select: fn as (ctx: NodeContext) => string }); break;
        case 'join': def = join(id, { ...base, run: fn }); break;
        case 'tool': def = this.toolDef(v, id, base); break;
      }
      b = b.node(def);
    }
    return b.build({ output: s.ids[s.n - 1]! });
  }
}

async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

const HANG_MS = 2_000;

/** Resolves with `p`, or rejects if it takes longer than HANG_MS (a hang detector, not a speed assertion). */
async function orHang<T>(p: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what()}`)), HANG_MS);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// One property iteration
// ---------------------------------------------------------------------------

async function check(c: Case, stats: Stats): Promise<void> {
  stats.iterations++;
  const s = shapeOf(c.nodes);
  const d = new Decisions(c.seed, s);
  // The shape is repaired to be valid; fc.pre guards the rest (the builder would throw).
  fc.pre(validateTopology(prefixTopology(s, s.n - 1)).ok);
  stats.valid++;
  stats.repairedNodes += s.repaired;
  if (s.repaired > 0) stats.repairedTopologies++;
  stats.nodes += s.n;
  const h = new Harness(s, d, c.engine, stats);
  const t = h.topology(c.engine.topologyMaxInFlight);

  const e = c.engine;
  const engine: Engine = createEngine({
    pools: { p0: e.poolSizes[0]!, p1: e.poolSizes[1]!, p2: e.poolSizes[2]! },
    ...(e.concurrency === undefined ? {} : { concurrency: e.concurrency }),
    ...(e.agingGrants === undefined ? {} : { agingGrants: e.agingGrants }),
    ...(e.maxInFlight === undefined ? {} : { maxInFlight: e.maxInFlight }),
  });
  const sub = engine.events$.subscribe((ev) => h.onEvent(ev));
  try {
    const recs: RunRec[] = c.runs.map((cfg, idx) => ({
      idx, id: `run${idx}`, cfg, ctl: new AbortController(),
      starts: new Map(), ends: new Map(), skipClock: new Map(), live: [],
      terminal: undefined, abortedWhileRunning: false, aborted: false,
    }));
    for (const rec of recs) h.byId.set(rec.id, rec);

    const launch = async (rec: RunRec): Promise<RunResult> => {
      await ticks(rec.cfg.startTicks);
      const cancel = rec.cfg.cancel;
      if (cancel.kind === 'pre') h.abort(rec);
      if (cancel.kind === 'ticks') h.pending.push(ticks(cancel.ticks).then(() => h.abort(rec)));
      return engine.run(t, { idx: rec.idx }, {
        priority: rec.cfg.priority,
        runId: rec.id,
        ...(cancel.kind === 'none' ? {} : { signal: rec.ctl.signal }),
      });
    };
    const results = await orHang(Promise.all(recs.map(launch)), () => {
      const open = recs.filter((r) => r.terminal === undefined).map((r) => r.id);
      return `runs not ended: ${open.join(', ')}`;
    }).catch(async (err: unknown) => {
      await engine.shutdown({ mode: 'cancel', timeoutMs: 0 }).catch(() => undefined);
      throw err;
    });
    // Let abort triggers and functions of failed/cancelled runs finish.
    await orHang(Promise.all(h.pending), () => 'abort triggers');
    for (let i = 0; i < 1000 && h.liveAll > 0; i++) await tick();
    expect(h.liveAll, 'node functions still running long after every run ended').toBe(0);
    expect(engine.inFlight).toBe(0);

    expect(h.violations.join('\n'), 'invariant violations seen by the instrumented nodes').toBe('');
    results.forEach((r, idx) => verifyRun(s, d, t, r, recs[idx]!, stats));
  } finally {
    await engine.shutdown();
    sub.unsubscribe();
  }
}

function verifyRun(s: Shape, d: Decisions, t: Topology, r: RunResult, rec: RunRec, stats: Stats): void {
  const tag = `${rec.id} (${r.status}, cancel ${rec.cfg.cancel.kind})`;
  stats.runs[r.status]++;
  expect(r.runId, tag).toBe(rec.id);
  expect(r.topology, tag).toBe(t.name);

  // Events: seq 0..n-1, one terminal event (last) matching the status, same as seen live.
  const ev = r.events;
  expect(ev.map((x) => x.seq), tag).toEqual(ev.map((_, i) => i));
  expect(ev.every((x) => x.runId === rec.id), tag).toBe(true);
  expect(ev.at(-1)?.type, tag).toBe(`run.${r.status}`);
  expect(ev.filter((x) => x.type.startsWith('run.') && x.type !== 'run.started').length, tag).toBe(1);
  expect(rec.terminal?.type, tag).toBe(`run.${r.status}`);
  expect(rec.live.map((x) => `${x.seq}:${x.type}:${'nodeId' in x ? x.nodeId : ''}`), tag)
    .toEqual(ev.map((x) => `${x.seq}:${x.type}:${'nodeId' in x ? x.nodeId : ''}`));
  if (ev[0]?.type !== 'run.started') {
    // Only a run cancelled before admission has no run.started.
    expect(r.status, tag).toBe('cancelled');
    expect(ev.length, tag).toBe(1);
  }

  const idsOf = (type: RunEvent['type']): string[] => ev.filter((x) => x.type === type).map((x) => (x as { nodeId: string }).nodeId);
  const startedEv = idsOf('node.started');
  expect(new Set(startedEv).size, `${tag}: node.started twice`).toBe(startedEv.length);
  // Every node that started ends with exactly one of node.completed, node.failed, node.cancelled.
  const ended = [...idsOf('node.completed'), ...idsOf('node.failed'), ...idsOf('node.cancelled')];
  expect([...ended].sort(), `${tag}: terminal node events vs node.started`).toEqual([...startedEv].sort());
  if (r.status === 'completed') expect(idsOf('node.cancelled'), tag).toEqual([]);
  const started = [...rec.starts.keys()].map((v) => s.ids[v]!);
  expect([...started].sort(), `${tag}: functions started vs node.started events`).toEqual([...startedEv].sort());
  for (const [v, k] of rec.starts) expect(k, `${tag}: ${s.ids[v]} starts`).toBe(1);

  // Against the oracle: nothing runs or is skipped that should not be.
  const exp = expectedRun(s, d, rec.idx);
  const expRunIds = s.ids.filter((_, v) => exp[v]);
  const expSkipIds = s.ids.filter((_, v) => !exp[v]);
  for (const id of started) expect(expRunIds, `${tag}: ${id} started but should be skipped`).toContain(id);
  for (const id of r.skipped) expect(expSkipIds, `${tag}: ${id} skipped but should run`).toContain(id);
  expect([...r.skipped].sort(), tag).toEqual([...idsOf('node.skipped')].sort());

  // Outputs: exactly the nodes with node.completed, each with what its function returned.
  const outKeys = Object.keys(r.outputs).sort();
  expect(outKeys, `${tag}: outputs vs node.completed`).toEqual([...idsOf('node.completed')].sort());
  for (const id of outKeys) {
    const end = rec.ends.get(s.ids.indexOf(id));
    expect(end?.ok, `${tag}: ${id} in outputs but its function did not return`).toBe(true);
    expect((r.outputs as Record<string, unknown>)[id], `${tag}: output of ${id}`).toBe(end?.value);
  }

  const failing = s.ids.filter((_, v) => exp[v] && d.fail(rec.idx, v) !== undefined);
  if (rec.abortedWhileRunning) {
    expect(r.status, tag).toBe('cancelled');
  } else {
    expect(rec.cfg.cancel.kind === 'pre').toBe(false);
    expect(r.status, tag).toBe(failing.length > 0 ? 'failed' : 'completed');
  }
  if (r.status === 'cancelled') {
    expect(rec.aborted, `${tag}: cancelled but never aborted`).toBe(true);
    expect(isCancelledError(r.error), tag).toBe(true);
  } else if (r.status === 'failed') {
    expect(isNodeError(r.error), `${tag}: ${r.error.message}`).toBe(true);
    const nodeId = (r.error as { nodeId?: string }).nodeId!;
    expect(failing, `${tag}: failed on ${nodeId}`).toContain(nodeId);
    expect(started, tag).toContain(nodeId);
    expect(idsOf('node.failed'), tag).toContain(nodeId);
    expect(r.output, tag).toBeUndefined();
  } else {
    // Completed: every node completed once or was skipped, as the oracle says.
    expect(outKeys, tag).toEqual([...expRunIds].sort());
    expect([...r.skipped].sort(), tag).toEqual([...expSkipIds].sort());
    expect(r.error, tag).toBeUndefined();
    const last = s.n - 1;
    expect(r.output, `${tag}: declared output`).toBe(exp[last] ? rec.ends.get(last)?.value : undefined);
  }
}

// ---------------------------------------------------------------------------

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 200);

describe('runtime properties over random DAGs', () => {
  it('runs every non-skipped node once, in dependency order, within every limit; every run ends', async () => {
    const stats: Stats = {
      iterations: 0, valid: 0, repairedTopologies: 0, repairedNodes: 0, nodes: 0, runs: { completed: 0, failed: 0, cancelled: 0, waiting: 0 },
      nodeStarts: 0, capSaturated: 0, poolSaturated: 0, globalSaturated: 0,
    };
    const seed = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);
    await fc.assert(fc.asyncProperty(caseArb, (c) => check(c, stats)), {
      numRuns: NUM_RUNS,
      // A hang costs HANG_MS per shrink step: stop shrinking in time to report it.
      interruptAfterTimeLimit: 20_000,
      markInterruptAsFailure: true,
      ...(process.env.PROPERTY_NO_SHRINK === undefined ? {} : { endOnFailure: true }),
      ...(seed === undefined ? {} : { seed }),
    });
    console.log('property stats', JSON.stringify(stats));
    // The generator must produce mostly valid topologies (it repairs the rest).
    expect(stats.valid / stats.iterations).toBeGreaterThan(0.9);
    // The interesting paths must actually be exercised.
    expect(stats.runs.completed).toBeGreaterThan(0);
    expect(stats.runs.failed).toBeGreaterThan(0);
    expect(stats.runs.cancelled).toBeGreaterThan(0);
    expect(stats.capSaturated + stats.poolSaturated + stats.globalSaturated).toBeGreaterThan(0);
  }, 55_000);
});
