/**
 * Static validation: `validateTopology` (returns issues, never throws), the
 * builder's `.build()` and the engine's `compile` (throw TopologyError).
 * Every issue must name the path of the bad field.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createEngine, fanOut, isTopologyError, isValidationError, join, route, subTopology, topology, validateTopology,
  TopologyError, type Issue, type NodeDef, type Topology,
} from '../src/index.ts';

const noop = (): unknown => null;
const pick = (b: string) => (): string => b;

/** A map node with the given extra fields (bypasses the builder's typing on purpose). */
function node(id: string, extra: Partial<Omit<NodeDef, 'id' | 'execute'>> = {}): NodeDef {
  return { kind: 'map', after: [], execute: noop, ...extra, id };
}

function topo(nodes: readonly NodeDef[], extra: Partial<Omit<Topology, 'nodes'>> = {}): Topology {
  return { name: 't', ...extra, nodes };
}

function issuesOf(t: Topology): readonly Issue[] {
  const v = validateTopology(t);
  expect(v.ok).toBe(false);
  expect(v.issues.length).toBeGreaterThan(0);
  return v.issues;
}

/** Finds the issue with exactly this path. */
function at(issues: readonly Issue[], path: readonly (string | number)[]): Issue {
  const found = issues.find((i) => JSON.stringify(i.path) === JSON.stringify(path));
  if (found === undefined) {
    throw new Error(`no issue at ${path.join('.')}; got:\n${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return found;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('validateTopology: cycles', () => {
  it('names a cycle through after-edges as a path', () => {
    const issues = issuesOf(topo([
      node('draft', { after: ['verify'] }),
      node('verify', { after: ['draft'] }),
    ]));
    const messages = issues.map((i) => i.message);
    expect(messages).toContain('cycle: draft -> verify -> draft');
    // reported once, pointing at the first node of the path
    expect(messages.filter((m) => m.startsWith('cycle:'))).toHaveLength(1);
    expect(at(issues, ['nodes', 0]).message).toBe('cycle: draft -> verify -> draft');
  });

  it('names a longer cycle with every node in order', () => {
    const issues = issuesOf(topo([
      node('a', { after: ['c'] }),
      node('b', { after: ['a'] }),
      node('c', { after: ['b'] }),
      node('free'),
    ]));
    expect(issues.map((i) => i.message)).toContain('cycle: a -> b -> c -> a');
  });

  it('names a cycle that closes through a route branch edge', () => {
    const issues = issuesOf(topo([
      node('draft'),
      route('verify', { after: ['draft'], branches: { revise: 'draft', ok: 'publish' }, select: pick('ok') }),
      node('publish'),
    ]));
    expect(issues.map((i) => i.message)).toContain('cycle: draft -> verify -> draft');
  });

  it('a self-dependency is a one-node cycle on the after field', () => {
    const issues = issuesOf(topo([node('a', { after: ['a'] })]));
    expect(at(issues, ['nodes', 0, 'after']).message).toBe('cycle: a -> a');
  });

  it('a route branching to itself is a cycle on the branch field', () => {
    const issues = issuesOf(topo([route('r', { branches: { again: 'r', done: 'x' }, select: pick('done') }), node('x')]));
    expect(at(issues, ['nodes', 0, 'branches', 'again', 0]).message).toBe('cycle: r -> r');
  });

  it('builder .build() throws a TopologyError naming the cycle', () => {
    const e = thrown(() =>
      topology('loop')
        .map('draft', { run: () => 'text' })
        .route('verify', { after: ['draft'], branches: { revise: 'draft', ok: 'publish' }, select: (): 'ok' | 'revise' => 'ok' })
        .map('publish', { run: () => 1 })
        .build(),
    );
    expect(e).toBeInstanceOf(TopologyError);
    expect(isTopologyError(e)).toBe(true);
    expect(isValidationError(e)).toBe(true);
    if (!isTopologyError(e)) return;
    expect(e.code).toBe('TOPOLOGY_INVALID');
    expect(e.retriable).toBe(false);
    expect(e.message).toContain("Topology 'loop' is invalid");
    expect(e.message).toContain('cycle: draft -> verify -> draft');
    expect(e.issues.map((i) => i.message)).toContain('cycle: draft -> verify -> draft');
  });
});

describe('validateTopology: references', () => {
  it('a dependency on a missing node names it at nodes.N.after.K', () => {
    const issues = issuesOf(topo([node('a'), node('b', { after: ['a', 'ghost'] })]));
    const issue = at(issues, ['nodes', 1, 'after', 1]);
    expect(issue.message).toContain("'ghost'");
    expect(issue.message).toContain("'b'");
  });

  it('builder .build() reports a missing dependency added through .node()', () => {
    const e = thrown(() => topology('t').map('a', { run: () => 1 }).node(node('b', { after: ['missing'] })).build());
    expect(isTopologyError(e)).toBe(true);
    if (!isTopologyError(e)) return;
    expect(at(e.issues, ['nodes', 1, 'after', 0]).message).toContain("'missing'");
    expect(e.message).toContain('nodes.1.after.0');
  });

  it('a dependency listed twice is reported', () => {
    const issues = issuesOf(topo([node('a'), node('b', { after: ['a', 'a'] })]));
    expect(at(issues, ['nodes', 1, 'after', 1]).message).toContain('twice');
  });

  it('duplicate ids are reported at the later node', () => {
    const issues = issuesOf(topo([node('a'), node('b'), node('a')]));
    const issue = at(issues, ['nodes', 2, 'id']);
    expect(issue.message).toContain("duplicate node id 'a'");
    expect(issue.message).toContain('nodes.0');
  });

  it('an invalid node id is reported', () => {
    const issues = issuesOf(topo([node('9lives')]));
    expect(at(issues, ['nodes', 0, 'id']).message).toContain('not a valid node id');
  });

  it('output naming a missing node', () => {
    const issues = issuesOf(topo([node('a')], { output: 'nowhere' }));
    expect(at(issues, ['output']).message).toContain("'nowhere'");
  });

  it('builder .build({ output }) with a missing node (type-cast) throws', () => {
    const b = topology('t').map('a', { run: () => 1 });
    const e = thrown(() => b.build({ output: 'zzz' as 'a' }));
    expect(isTopologyError(e) && at(e.issues, ['output']).message).toContain("'zzz'");
  });

  it('route with no branches', () => {
    const issues = issuesOf(topo([route('r', { branches: {}, select: pick('x') })]));
    expect(at(issues, ['nodes', 0, 'branches']).message).toContain('at least one branch');
  });

  it('route targeting a missing node names route, branch and target', () => {
    const issues = issuesOf(topo([
      route('r', { branches: { yes: ['a', 'ghost'], no: 'a' }, select: pick('yes') }),
      node('a'),
    ]));
    const issue = at(issues, ['nodes', 0, 'branches', 'yes', 1]);
    expect(issue.message).toContain("'ghost'");
    expect(issue.message).toContain("'yes'");
    expect(issue.message).toContain("'r'");
  });

  it('branches on a non-route node', () => {
    const issues = issuesOf(topo([node('a', { branches: { x: ['b'] } }), node('b')]));
    expect(at(issues, ['nodes', 0, 'branches']).message).toContain('only route');
  });

  it('onError to a missing node', () => {
    const issues = issuesOf(topo([node('a', { onError: 'rescue' })]));
    const issue = at(issues, ['nodes', 0, 'onError']);
    expect(issue.message).toContain("'rescue'");
  });

  it('onError to itself', () => {
    const issues = issuesOf(topo([node('a', { onError: 'a' })]));
    expect(at(issues, ['nodes', 0, 'onError']).message).toContain('own onError');
  });

  it('an empty topology and an empty name', () => {
    const issues = issuesOf({ name: '', nodes: [] });
    at(issues, ['name']);
    at(issues, ['nodes']);
  });
});

describe('validateTopology: caps and timeouts', () => {
  it.each([0, 1.5, -1, Number.NaN, Infinity])('cap %s is rejected at nodes.N.cap', (cap) => {
    const issues = issuesOf(topo([node('a'), node('b', { cap })]));
    expect(at(issues, ['nodes', 1, 'cap']).message).toContain('positive integer');
  });

  it.each([0, -5, Number.NaN, Infinity])('timeoutMs %s is rejected at nodes.N.timeoutMs', (timeoutMs) => {
    const issues = issuesOf(topo([node('a', { timeoutMs })]));
    expect(at(issues, ['nodes', 0, 'timeoutMs']).message).toContain('positive');
  });

  it.each([0, 2.5, -3])('maxInFlight %s is rejected', (maxInFlight) => {
    const issues = issuesOf(topo([node('a')], { maxInFlight }));
    at(issues, ['maxInFlight']);
  });

  it('valid caps and timeouts pass (fractional timeouts are fine)', () => {
    const v = validateTopology(topo([node('a', { cap: 1, timeoutMs: 0.5 }), node('b', { cap: 64, timeoutMs: 30_000, after: ['a'] })], { maxInFlight: 3 }));
    expect(v.ok).toBe(true);
  });

  it('builder .build() rejects a bad cap and a bad timeout, all issues at once', () => {
    const e = thrown(() =>
      topology('caps')
        .map('a', { cap: 0, run: () => 1 })
        .map('b', { after: ['a'], cap: 1.5, timeoutMs: -1, run: () => 2 })
        .build(),
    );
    expect(isTopologyError(e)).toBe(true);
    if (!isTopologyError(e)) return;
    at(e.issues, ['nodes', 0, 'cap']);
    at(e.issues, ['nodes', 1, 'cap']);
    at(e.issues, ['nodes', 1, 'timeoutMs']);
    expect(e.message).toContain('nodes.1.timeoutMs');
  });
});

describe('validateTopology: nodes that can never run', () => {
  it('a join with no parents', () => {
    const issues = issuesOf(topo([node('a'), join('j', { after: [] })]));
    expect(at(issues, ['nodes', 1, 'after']).message).toContain('no parents');
  });

  it("a non-join node whose parents need different branches of the same route 'can never run'", () => {
    const issues = issuesOf(topo([
      route('r', { branches: { left: 'x', right: 'y' }, select: pick('left') }),
      node('x'),
      node('y'),
      node('z', { after: ['x', 'y'] }),
    ]));
    const issue = at(issues, ['nodes', 3]);
    expect(issue.message).toContain("'z'");
    expect(issue.message).toContain('can never run');
  });

  it('the same shape is valid when the merge node is a join', () => {
    const v = validateTopology(topo([
      route('r', { branches: { left: 'x', right: 'y' }, select: pick('left') }),
      node('x'),
      node('y'),
      join('z', { after: ['x', 'y'] }),
    ]));
    expect(v.issues).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('a node depending on a route and on a node of its other branch can never run', () => {
    // z runs only on 'left' (branch edge) but also needs y, which runs only on 'right'
    const issues = issuesOf(topo([
      route('r', { branches: { left: ['x', 'z'], right: 'y' }, select: pick('left') }),
      node('x'),
      node('y'),
      node('z', { after: ['y'] }),
    ]));
    expect(at(issues, ['nodes', 3]).message).toContain('can never run');
  });

  it('a join none of whose parents can run', () => {
    const issues = issuesOf(topo([
      route('r', { branches: { left: 'x', right: 'y' }, select: pick('left') }),
      node('x'),
      node('y'),
      node('z', { after: ['x', 'y'] }),
      join('j', { after: ['z'] }),
    ]));
    expect(at(issues, ['nodes', 3]).message).toContain('can never run');
    const issue = at(issues, ['nodes', 4]);
    expect(issue.message).toContain("join 'j'");
    expect(issue.message).toContain('can never fire');
  });

  it('a node downstream of a never-running node is not reported again', () => {
    const issues = issuesOf(topo([
      route('r', { branches: { left: 'x', right: 'y' }, select: pick('left') }),
      node('x'),
      node('y'),
      node('z', { after: ['x', 'y'] }),
      node('w', { after: ['z'] }),
    ]));
    expect(issues.filter((i) => i.message.includes('can never'))).toHaveLength(1);
  });

  it('a node after both an onError source (success gate) and its fallback (error gate) can never run', () => {
    const issues = issuesOf(topo([
      node('x', { onError: 'fb' }),
      node('fb'),
      node('z', { after: ['x', 'fb'] }),
    ]));
    expect(at(issues, ['nodes', 2]).message).toContain('can never run');
  });
});

describe('validateTopology: valid graphs', () => {
  it('a chain, a diamond, a route with a join, an onError edge and a fallback join pass', () => {
    const t = topo([
      node('a'),
      node('b', { after: ['a'] }),
      node('c', { after: ['a'] }),
      node('d', { after: ['b', 'c'] }),
      route('r', { after: ['d'], branches: { yes: 'y', no: ['n'], none: [] }, select: pick('yes') }),
      node('y', { after: ['d'] }),
      node('n'),
      join('j', { after: ['y', 'n'] }),
      node('risky', { after: ['j'], onError: 'fallback' }),
      node('fallback'),
      join('final', { after: ['risky', 'fallback'] }),
    ], { output: 'final', maxInFlight: 8 });
    const v = validateTopology(t);
    expect(v.issues).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.graph.order).toHaveLength(t.nodes.length);
  });

  it('the builder returns the topology for a valid graph', () => {
    const t = topology('ok', { input: z.number(), maxInFlight: 2 })
      .map('a', { run: ({ input }) => input + 1 })
      .route('r', { after: ['a'], branches: { even: 'e', odd: 'o' }, select: ({ deps }) => (deps.a % 2 === 0 ? 'even' : 'odd') })
      .map('e', { run: () => 'even' })
      .map('o', { run: () => 'odd' })
      .join('j', { after: ['e', 'o'] })
      .build({ output: 'j' });
    expect(t.name).toBe('ok');
    expect(t.output).toBe('j');
    expect(t.maxInFlight).toBe(2);
    expect(t.nodes.map((n) => n.id)).toEqual(['a', 'r', 'e', 'o', 'j']);
    expect(validateTopology(t).ok).toBe(true);
  });

  it('builders are immutable: branching from an older builder never sees later nodes', () => {
    const base = topology('fork').map('a', { run: () => 1 });
    const left = base.map('x', { after: ['a'], run: () => 2 });
    const right = base.map('y', { after: ['a'], run: () => 3 });
    const longer = left.map('z', { after: ['x'], run: () => 4 });
    const again = left.map('w', { run: () => 5 });
    expect(base.build().nodes.map((n) => n.id)).toEqual(['a']);
    expect(left.build().nodes.map((n) => n.id)).toEqual(['a', 'x']);
    expect(right.build().nodes.map((n) => n.id)).toEqual(['a', 'y']);
    expect(longer.build().nodes.map((n) => n.id)).toEqual(['a', 'x', 'z']);
    expect(again.build().nodes.map((n) => n.id)).toEqual(['a', 'x', 'w']);
  });

  it('validateTopology never throws, even with many problems at once', () => {
    const t = topo([
      node('a', { after: ['a', 'ghost'], cap: 0 }),
      node('a'),
      route('r', { branches: {}, select: pick('x') }),
      join('j', { after: [] }),
    ], { output: 'nope', maxInFlight: -1 });
    const v = validateTopology(t);
    expect(v.ok).toBe(false);
    expect(v.issues.length).toBeGreaterThanOrEqual(6);
  });
});

/** A chain n0 <- n1 <- ... of `size` map nodes; `close` makes n0 depend on the last node. */
function chain(size: number, close = false): NodeDef[] {
  return Array.from({ length: size }, (_, i) => node(`n${i}`, { after: i > 0 ? [`n${i - 1}`] : close ? [`n${size - 1}`] : [] }));
}

describe('validateTopology: large graphs (nothing recurses once per node)', () => {
  it('a 5,000-node cycle is one bounded cycle issue, not a RangeError', () => {
    const v = validateTopology(topo(chain(5000, true)));
    expect(v.ok).toBe(false);
    const cycles = v.issues.filter((i) => i.code === 'cycle');
    expect(cycles).toHaveLength(1);
    const issue = at(v.issues, ['nodes', 0]);
    expect(issue.code).toBe('cycle');
    expect(issue.message.startsWith('cycle: n0 -> n1 -> n2 -> ')).toBe(true);
    expect(issue.message).toContain('… (5000 nodes) …');
    expect(issue.message.endsWith(' -> n4999 -> n0')).toBe(true);
    expect(issue.message.length).toBeLessThan(400);
  });

  it('a cycle at the end of a 20,000-node chain is found and named in full', () => {
    const nodes = chain(20_000);
    nodes[19_998] = node('n19998', { after: ['n19997', 'n19999'] });
    const v = validateTopology(topo(nodes));
    expect(v.issues).toEqual([{ code: 'cycle', path: ['nodes', 19_998], message: 'cycle: n19998 -> n19999 -> n19998' }]);
  });

  it('a valid 20,000-node chain passes with its topological order', () => {
    const v = validateTopology(topo(chain(20_000), { output: 'n19999' }));
    expect(v.issues).toEqual([]);
    expect(v.graph.order).toHaveLength(20_000);
  });

  it('150,000 issues at once come back as data', () => {
    const ghosts = Array.from({ length: 150_000 }, (_, k) => `ghost${k}`);
    const v = validateTopology(topo([node('a', { after: ghosts })]));
    expect(v.issues).toHaveLength(150_000);
    expect(v.issues[149_999]).toEqual({ code: 'missing_dependency', path: ['nodes', 0, 'after', 149_999], message: "node 'a' depends on missing node 'ghost149999'" });
  });

  it('a short cycle keeps every id; a long one elides the middle', () => {
    const twentyTwo = validateTopology(topo(chain(22, true)));
    expect(at(twentyTwo.issues, ['nodes', 0]).message).toBe(`cycle: ${Array.from({ length: 22 }, (_, i) => `n${i}`).join(' -> ')} -> n0`);
    const long = validateTopology(topo(chain(23, true)));
    const head = Array.from({ length: 20 }, (_, i) => `n${i}`).join(' -> ');
    expect(at(long.issues, ['nodes', 0]).message).toBe(`cycle: ${head} -> … (23 nodes) … -> n22 -> n0`);
  });

  it('builder .build() throws a TopologyError naming a 5,000-node cycle', () => {
    let b = topology('big-loop');
    for (const def of chain(5000, true)) b = b.node(def);
    const e = thrown(() => b.build());
    expect(e).toBeInstanceOf(TopologyError);
    if (!isTopologyError(e)) return;
    expect(e.issues.map((i) => i.code)).toEqual(['cycle']);
    expect(e.message).toContain('cycle: n0 -> n1 -> ');
    expect(e.message).toContain('(5000 nodes)');
  });

  it('builder .build() on a 20,000-node chain: the topology, or a TopologyError for its cycle', () => {
    let ok = topology('big-chain');
    for (const def of chain(20_000)) ok = ok.node(def);
    expect(ok.build().nodes).toHaveLength(20_000);
    let bad = topology('big-chain-loop');
    const nodes = chain(20_000);
    nodes[19_998] = node('n19998', { after: ['n19997', 'n19999'] });
    for (const def of nodes) bad = bad.node(def);
    const e = thrown(() => bad.build());
    expect(isTopologyError(e) && e.issues).toEqual([{ code: 'cycle', path: ['nodes', 19_998], message: 'cycle: n19998 -> n19999 -> n19998' }]);
  });
});

describe('validateTopology: pools that cannot be honoured', () => {
  const child = topology('child').map('x', { pool: 'llm', run: () => 1 }).build({ output: 'x' });

  it('a pool on a sub-topology node is rejected at nodes.N.pool', () => {
    const issues = issuesOf(topo([node('a'), subTopology('sub', { after: ['a'], pool: 'llm', topology: child })]));
    const issue = at(issues, ['nodes', 1, 'pool']);
    expect(issue.code).toBe('pool_not_supported');
    expect(issue.message).toContain("'sub'");
    expect(issue.message).toContain('child');
    expect(issues).toHaveLength(1);
  });

  it('a pool on a remote node is rejected at nodes.N.pool', () => {
    const issues = issuesOf(topo([node('a', { remote: 'gpu-workers', pools: ['gpu'] })]));
    const issue = at(issues, ['nodes', 0, 'pool']);
    expect(issue.code).toBe('pool_not_supported');
    expect(issue.message).toContain("'gpu-workers'");
    expect(issues).toHaveLength(1);
  });

  it('builder .build() rejects both at once', () => {
    const e = thrown(() =>
      topology('pools-nowhere')
        .sub('sub', { pool: ['llm', 'gpu'], topology: child })
        .map('far', { remote: 'workers', pool: 'llm', run: () => 1 })
        .build(),
    );
    expect(isTopologyError(e) && e.issues.map((i) => [i.code, i.path.join('.')])).toEqual([
      ['pool_not_supported', 'nodes.0.pool'],
      ['pool_not_supported', 'nodes.1.pool'],
    ]);
  });

  it('pools on joins, fan-outs, plain nodes, and an empty pool list anywhere are fine', () => {
    const v = validateTopology(topo([
      node('a', { pools: ['llm'] }),
      fanOut('f', { after: ['a'], pool: 'llm', items: () => [1, 2], each: (x: number) => x }),
      join('j', { after: ['a', 'f'], pool: ['llm', 'gpu'] }),
      subTopology('sub', { after: ['j'], pool: [], topology: child }),
      node('far', { remote: 'workers', pools: [] }),
    ]));
    expect(v.issues).toEqual([]);
  });
});

describe('validateTopology: issue codes', () => {
  it('representative issues carry their codes', () => {
    const v = validateTopology(topo([
      node('a', { after: ['b'] }),
      node('b', { after: ['a'] }),
      node('c', { after: ['ghost'], cap: 0 }),
      node('c'),
      subTopology('s', { pool: 'llm', topology: topology('kid').map('k', { run: () => 1 }).build() }),
    ]));
    const codeAt = (path: readonly (string | number)[]): string => at(v.issues, path).code;
    expect(codeAt(['nodes', 0])).toBe('cycle');
    expect(codeAt(['nodes', 2, 'after', 0])).toBe('missing_dependency');
    expect(codeAt(['nodes', 3, 'id'])).toBe('duplicate_id');
    expect(codeAt(['nodes', 2, 'cap'])).toBe('invalid_cap');
    expect(codeAt(['nodes', 4, 'pool'])).toBe('pool_not_supported');
    for (const i of v.issues) expect(i.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});

describe('engine.compile', () => {
  it('a node naming an unknown pool throws TopologyError at nodes.N.pool.K listing the engine pools', () => {
    const t = topology('pools')
      .map('a', { pool: 'llm', run: () => 1 })
      .map('b', { after: ['a'], pool: ['llm', 'gpu'], run: () => 2 })
      .build();
    const engine = createEngine({ pools: { llm: 2 } });
    const e = thrown(() => engine.compile(t));
    expect(e).toBeInstanceOf(TopologyError);
    if (!isTopologyError(e)) return;
    const issue = at(e.issues, ['nodes', 1, 'pool', 1]);
    expect(issue.message).toContain("'gpu'");
    expect(issue.message).toContain('llm');
    expect(e.issues).toHaveLength(1);
    expect(e.message).toContain('nodes.1.pool.1');
  });

  it('engine.run rejects with the same TopologyError', async () => {
    const t = topology('pools2').map('a', { pool: 'gpu', run: () => 1 }).build();
    const engine = createEngine();
    const err = await engine.run(t, undefined).then(() => undefined, (e: unknown) => e);
    expect(isTopologyError(err)).toBe(true);
    expect(isTopologyError(err) && at(err.issues, ['nodes', 0, 'pool', 0]).message).toContain('none');
  });

  it('compile rejects a topology that was never validated (plain object)', () => {
    const engine = createEngine();
    const e = thrown(() => engine.compile(topo([node('a', { after: ['b'] }), node('b', { after: ['a'] })])));
    expect(isTopologyError(e) && e.message).toContain('cycle: a -> b -> a');
  });

  it('a valid topology with known pools compiles and runs', async () => {
    const t = topology('pools3', { input: z.number() })
      .map('a', { pool: 'llm', run: ({ input }) => input * 2 })
      .build({ output: 'a' });
    const engine = createEngine({ pools: { llm: 1 } });
    expect(() => engine.compile(t)).not.toThrow();
    const r = await engine.run(t, 21);
    expect(r.status).toBe('completed');
    expect(r.output).toBe(42);
  });
});
