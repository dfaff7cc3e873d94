/**
 * Topologies written as JSON or YAML: `parseTopology` on documents and
 * `loadTopologyFile` on files (written under os.tmpdir()), resolved against a
 * Registry, validated with paths, and run end to end on an engine.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createEngine, defineTool, isNodeError, isValidationError, topology, type Issue, type NodeContext, type Topology,
} from '../src/index.ts';
import { createRegistry, loadTopologyFile, parseTopology, type ParseResult } from '../src/documents/index.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(joinPath(tmpdir(), 'llmo-load-test-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = joinPath(dir, name);
  await writeFile(p, text, 'utf8');
  return p;
}

function ok(r: ParseResult): Topology {
  if (!r.ok) throw new Error(`expected ok, got issues:\n${r.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return r.topology;
}

function issues(r: ParseResult): readonly Issue[] {
  if (r.ok) throw new Error('expected issues, got a topology');
  expect(r.issues.length).toBeGreaterThan(0);
  return r.issues;
}

function at(list: readonly Issue[], path: readonly (string | number)[]): Issue {
  const found = list.find((i) => JSON.stringify(i.path) === JSON.stringify(path));
  if (found === undefined) throw new Error(`no issue at ${path.join('.')}; got:\n${list.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return found;
}

/** Everything the tool was called with, for the args-template tests. */
const toolCalls: unknown[] = [];

const search = defineTool({
  name: 'search',
  input: z.object({ query: z.string(), limit: z.number().int().positive() }).loose(),
  output: z.array(z.string()),
  run: (args) => {
    toolCalls.push(args);
    return Array.from({ length: args.limit }, (_, i) => `${args.query}#${i}`);
  },
});

const echoArgs = defineTool({
  name: 'echoArgs',
  input: z.record(z.string(), z.unknown()),
  run: (args) => args,
});

const child = topology('child', { input: z.object({ text: z.string() }) })
  .map('rev', { run: ({ input }) => [...input.text].reverse().join('') })
  .build({ output: 'rev' });

function registry() {
  return createRegistry()
    .schema('question', z.object({ q: z.string().min(1), limit: z.number().int().positive().default(2) }))
    .schema('answer', z.object({ answer: z.string(), kind: z.enum(['long', 'short']) }))
    .map('lower', ({ input }: NodeContext<{ q: string }>) => ({ text: input.q.toLowerCase() }))
    .map('tagLong', ({ deps, config }: NodeContext<unknown, { lookup: string[] }>) => ({ answer: `${String(config['prefix'] ?? '')}${deps.lookup.join(',')}`, kind: 'long' }))
    .map('tagShort', ({ deps }: NodeContext<unknown, { lookup: string[] }>) => ({ answer: deps.lookup.join(','), kind: 'short' }))
    .map('childInput', ({ deps }: NodeContext<unknown, { normalize: { text: string } }>) => ({ text: deps.normalize.text }))
    .map('boom', () => { throw Object.assign(new Error('boom'), { retriable: true }); })
    .map('rescue', ({ deps }: NodeContext<unknown, { risky: { code: string; nodeId: string; retriable: boolean; cause: { message: string } } }>) =>
      `rescued ${deps.risky.nodeId} ${deps.risky.code} retriable=${String(deps.risky.retriable)}: ${deps.risky.cause.message}`)
    .route('size', ({ deps }: NodeContext<unknown, { lengths: number[] }>) => (deps.lengths.reduce((a, b) => a + b, 0) > 12 ? 'long' : 'short'))
    .join('first', ({ deps }) => deps['long'] ?? deps['short'])
    .fanOut('measure', {
      items: ({ deps }: NodeContext<unknown, { lookup: string[] }>) => deps.lookup,
      each: async (s: string) => s.length,
    })
    .tool(search)
    .tool(echoArgs)
    .topology('child', child);
}

const pipelineDoc = {
  name: 'doc-pipeline',
  description: 'from a document',
  input: 'question',
  output: 'answer',
  maxInFlight: 4,
  nodes: [
    { id: 'normalize', kind: 'map', op: 'lower' },
    { id: 'lookup', kind: 'tool', tool: 'search', after: ['normalize'], args: { query: '$deps.normalize.text', limit: '$input.limit' } },
    { id: 'lengths', kind: 'fanOut', op: 'measure', after: ['lookup'], itemCap: 2 },
    { id: 'verdict', kind: 'route', op: 'size', after: ['lengths'], branches: { long: 'long', short: ['short'] } },
    { id: 'long', kind: 'map', op: 'tagLong', after: ['lookup'], with: { prefix: 'L:' }, outputSchema: 'answer' },
    { id: 'short', kind: 'map', op: 'tagShort', after: ['lookup'], outputSchema: 'answer' },
    { id: 'reversed', kind: 'topology', topology: 'child', inputOp: 'childInput', after: ['normalize'] },
    { id: 'answer', kind: 'join', op: 'first', after: ['long', 'short'] },
  ],
};

const pipelineYaml = `
# the same pipeline as YAML
name: doc-pipeline
description: from a document
input: question
output: answer
maxInFlight: 4
nodes:
  - id: normalize
    kind: map
    op: lower
  - id: lookup
    kind: tool
    tool: search
    after: [normalize]
    args: { query: $deps.normalize.text, limit: $input.limit }
  - { id: lengths, kind: fanOut, op: measure, after: [lookup], itemCap: 2 }
  - id: verdict
    kind: route
    op: size
    after: [lengths]
    branches: { long: long, short: [short] }
  - { id: long, kind: map, op: tagLong, after: [lookup], with: { prefix: "L:" }, outputSchema: answer }
  - { id: short, kind: map, op: tagShort, after: [lookup], outputSchema: answer }
  - { id: reversed, kind: topology, topology: child, inputOp: childInput, after: [normalize] }
  - id: answer
    kind: join
    op: first
    after: [long, short]
`;

async function expectPipelineRuns(t: Topology): Promise<void> {
  expect(t.name).toBe('doc-pipeline');
  expect(t.description).toBe('from a document');
  expect(t.output).toBe('answer');
  expect(t.maxInFlight).toBe(4);
  expect(t.nodes.map((n) => [n.id, n.kind])).toEqual([
    ['normalize', 'map'], ['lookup', 'tool'], ['lengths', 'fanOut'], ['verdict', 'route'],
    ['long', 'map'], ['short', 'map'], ['reversed', 'topology'], ['answer', 'join'],
  ]);
  const engine = createEngine();
  // "Hello" -> "hello#0" (7) + "hello#1" (7) = 14 > 12: long
  const long = await engine.run(t, { q: 'Hello' });
  expect(long.status).toBe('completed');
  expect(long.output).toEqual({ answer: 'L:hello#0,hello#1', kind: 'long' });
  expect(long.outputs).toMatchObject({
    normalize: { text: 'hello' },
    lookup: ['hello#0', 'hello#1'],
    lengths: [7, 7],
    verdict: 'long',
    reversed: 'olleh',
  });
  expect(long.skipped).toEqual(['short']);
  // "Hi", limit 1 -> "hi#0" (4): short
  const short = await engine.run(t, { q: 'Hi', limit: 1 });
  expect(short.status).toBe('completed');
  expect(short.output).toEqual({ answer: 'hi#0', kind: 'short' });
  expect(short.skipped).toEqual(['long']);
  // the document's input schema is applied
  const bad = await engine.run(t, { q: '' });
  expect(bad.status).toBe('failed');
  expect(bad.error?.code).toBe('INPUT_INVALID');
  expect(isValidationError(bad.error) && bad.error.issues[0]!.path).toEqual(['input', 'q']);
  await engine.shutdown();
}

describe('parseTopology: good documents', () => {
  it('builds every node kind from a document and runs it end to end', async () => {
    await expectPipelineRuns(ok(parseTopology(pipelineDoc, registry())));
  });

  it('copies node options (cap, pool, timeoutMs, onError, with, outputSchema, description)', () => {
    const t = ok(parseTopology({
      name: 'opts',
      nodes: [
        { id: 'a', kind: 'map', op: 'lower', cap: 3, pool: 'llm', timeoutMs: 1500, onError: 'b', with: { k: 1 }, description: 'first' },
        { id: 'b', kind: 'map', op: 'rescue', pool: ['llm', 'gpu'], outputSchema: 'answer' },
      ],
    }, registry()));
    const [a, b] = t.nodes;
    expect(a).toMatchObject({ id: 'a', cap: 3, pools: ['llm'], timeoutMs: 1500, onError: 'b', config: { k: 1 }, description: 'first', after: [] });
    expect(b?.pools).toEqual(['llm', 'gpu']);
    expect(b?.output).toBeDefined();
  });

  it('an onError edge from a document handles the failure', async () => {
    const t = ok(parseTopology({
      name: 'rescue',
      output: 'fallback',
      nodes: [
        { id: 'risky', kind: 'map', op: 'boom', onError: 'fallback' },
        { id: 'fallback', kind: 'map', op: 'rescue' },
        { id: 'after', kind: 'map', op: 'lower', after: ['risky'] },
      ],
    }, registry()));
    const r = await createEngine().run(t, null);
    expect(r.status).toBe('completed');
    expect(r.outputs['fallback']).toBe('rescued risky NODE_FAILED retriable=true: boom');
    expect(r.output).toBe('rescued risky NODE_FAILED retriable=true: boom');
    expect(r.skipped).toEqual(['after']);
    expect(r.outputs).not.toHaveProperty('risky');
  });

  it('a join without op outputs its parents outputs', async () => {
    const t = ok(parseTopology({
      name: 'plain-join',
      output: 'j',
      nodes: [
        { id: 'x', kind: 'map', op: 'lower' },
        { id: 'y', kind: 'map', op: 'lower' },
        { id: 'j', kind: 'join', after: ['x', 'y'] },
      ],
    }, registry()));
    const r = await createEngine().run(t, { q: 'AB' });
    expect(r.output).toEqual({ x: { text: 'ab' }, y: { text: 'ab' } });
  });
});

describe('parseTopology: tool args templates', () => {
  const run = async (args: Record<string, unknown>, input: unknown): Promise<unknown> => {
    const t = ok(parseTopology({
      name: 'args',
      output: 't',
      nodes: [
        { id: 'normalize', kind: 'map', op: 'lower' },
        { id: 't', kind: 'tool', tool: 'echoArgs', after: ['normalize'], args },
      ],
    }, registry()));
    const r = await createEngine().run(t, input);
    expect(r.status).toBe('completed');
    return r.output;
  };

  it('$input.x, $deps.node.field, $$literal, nesting and plain values', async () => {
    const out = await run({
      q: '$input.q',
      deep: '$input.meta.tags',
      dep: '$deps.normalize.text',
      depWhole: '$deps.normalize',
      whole: '$input',
      literal: '$$input.q',
      dollar: '$$',
      plain: 'hello $input.q',
      num: 3,
      flag: false,
      nil: null,
      list: ['$input.q', '$$x', 7],
      nested: { a: { b: '$deps.normalize.text' } },
    }, { q: 'HeLLo', meta: { tags: ['a', 'b'] } });
    expect(out).toEqual({
      q: 'HeLLo',
      deep: ['a', 'b'],
      dep: 'hello',
      depWhole: { text: 'hello' },
      whole: { q: 'HeLLo', meta: { tags: ['a', 'b'] } },
      literal: '$input.q',
      dollar: '$',
      plain: 'hello $input.q',
      num: 3,
      flag: false,
      nil: null,
      list: ['HeLLo', '$x', 7],
      nested: { a: { b: 'hello' } },
    });
  });

  it('a path through a missing or non-object value resolves to undefined', async () => {
    const out = (await run({ missing: '$input.nope.deeper', through: '$input.q.length', dep: '$deps.ghost.x' }, { q: 'abc' })) as Record<string, unknown>;
    expect(out['missing']).toBeUndefined();
    expect(out['through']).toBeUndefined();
    expect(out['dep']).toBeUndefined();
  });

  it('arguments resolved from a template are validated by the tool (TOOL_INPUT_INVALID names the field)', async () => {
    const t = ok(parseTopology({
      name: 'bad-args',
      nodes: [{ id: 'lookup', kind: 'tool', tool: 'search', args: { query: '$input.q', limit: '$input.n' } }],
    }, registry()));
    const r = await createEngine().run(t, { q: 'x', n: 'many' });
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('lookup');
    expect(r.error?.code).toBe('TOOL_INPUT_INVALID');
    const cause = r.error?.cause;
    expect(isValidationError(cause) && cause.issues.map((i) => i.path)).toEqual([['limit']]);
  });

  it('a tool without args gets an empty object', async () => {
    const t = ok(parseTopology({ name: 'no-args', output: 't', nodes: [{ id: 't', kind: 'tool', tool: 'echoArgs' }] }, registry()));
    const r = await createEngine().run(t, 1);
    expect(r.output).toEqual({});
  });
});

describe('parseTopology: malformed documents', () => {
  const reg = registry();
  const base = (nodes: unknown[], extra: Record<string, unknown> = {}): unknown => ({ name: 'bad', ...extra, nodes });

  it('not an object', () => {
    expect(at(issues(parseTopology(null, reg)), []).message).toContain('object');
    expect(issues(parseTopology('name: x', reg)).length).toBeGreaterThan(0);
  });

  it('missing nodes', () => {
    expect(at(issues(parseTopology({ name: 'x' }, reg)), ['nodes']).message).toMatch(/array/);
  });

  it('empty nodes and missing name', () => {
    const list = issues(parseTopology({ nodes: [] }, reg));
    at(list, ['nodes']);
    at(list, ['name']);
  });

  it('unknown kind', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower' }, { id: 'b', kind: 'teleport' }]), reg));
    expect(at(list, ['nodes', 1, 'kind']).message).toContain('map');
  });

  it('wrong type for cap -> nodes.1.cap', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower' }, { id: 'b', kind: 'map', op: 'lower', cap: 'two' }]), reg));
    expect(at(list, ['nodes', 1, 'cap']).message).toMatch(/number/);
  });

  it.each([0, 1.5, -1])('cap %s -> nodes.1.cap', (cap) => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower' }, { id: 'b', kind: 'map', op: 'lower', cap }]), reg));
    at(list, ['nodes', 1, 'cap']);
  });

  it('wrong types elsewhere: timeoutMs, after, branches, maxInFlight', () => {
    const list = issues(parseTopology(base([
      { id: 'a', kind: 'map', op: 'lower', timeoutMs: 'soon' },
      { id: 'b', kind: 'map', op: 'lower', after: 'a' },
      { id: 'r', kind: 'route', op: 'size', branches: ['x'] },
    ], { maxInFlight: 0 }), reg));
    at(list, ['nodes', 0, 'timeoutMs']);
    at(list, ['nodes', 1, 'after']);
    at(list, ['nodes', 2, 'branches']);
    at(list, ['maxInFlight']);
  });

  it('unknown fields are rejected', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower', opp: 'x' }]), reg));
    expect(at(list, ['nodes', 0]).message).toContain('opp');
  });

  it('a join needs at least one parent', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower' }, { id: 'j', kind: 'join', after: [] }]), reg));
    at(list, ['nodes', 1, 'after']);
  });

  it('unknown operator name -> nodes.N.op listing the registered names', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower' }, { id: 'b', kind: 'map', op: 'summarise', after: ['a'] }]), reg));
    const issue = at(list, ['nodes', 1, 'op']);
    expect(issue.message).toContain("unknown map operator 'summarise'");
    for (const name of ['lower', 'tagLong', 'tagShort', 'childInput', 'boom', 'rescue']) expect(issue.message).toContain(name);
  });

  it('unknown route, join, fan-out, tool, topology and inputOp names, each at its field', () => {
    const list = issues(parseTopology(base([
      { id: 'r', kind: 'route', op: 'nope', branches: { a: 'x' } },
      { id: 'x', kind: 'map', op: 'lower' },
      { id: 'j', kind: 'join', op: 'nope', after: ['x'] },
      { id: 'f', kind: 'fanOut', op: 'nope' },
      { id: 't', kind: 'tool', tool: 'nope' },
      { id: 's', kind: 'topology', topology: 'nope' },
      { id: 's2', kind: 'topology', topology: 'child', inputOp: 'nope' },
    ]), reg));
    expect(at(list, ['nodes', 0, 'op']).message).toContain('(registered: size)');
    expect(at(list, ['nodes', 2, 'op']).message).toContain('(registered: first)');
    expect(at(list, ['nodes', 3, 'op']).message).toContain('(registered: measure)');
    expect(at(list, ['nodes', 4, 'tool']).message).toContain('(registered: search, echoArgs)');
    expect(at(list, ['nodes', 5, 'topology']).message).toContain('(registered: child)');
    expect(at(list, ['nodes', 6, 'inputOp']).message).toContain("unknown map operator 'nope'");
  });

  it('an empty registry says so', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower' }]), createRegistry()));
    expect(at(list, ['nodes', 0, 'op']).message).toContain('(registered: none)');
  });

  it('unknown schema, for the input and for a node output', () => {
    const list = issues(parseTopology(base([{ id: 'a', kind: 'map', op: 'lower', outputSchema: 'nah' }], { input: 'who' }), reg));
    expect(at(list, ['nodes', 0, 'outputSchema']).message).toContain("unknown schema 'nah'");
    expect(at(list, ['nodes', 0, 'outputSchema']).message).toContain('question');
    expect(at(list, ['input']).message).toContain("unknown schema 'who'");
  });

  it('graph problems come back as issues too (cycle, missing dependency, missing output)', () => {
    const list = issues(parseTopology(base([
      { id: 'draft', kind: 'map', op: 'lower', after: ['verify'] },
      { id: 'verify', kind: 'map', op: 'lower', after: ['draft'] },
      { id: 'orphan', kind: 'map', op: 'lower', after: ['missing'] },
    ], { output: 'gone' }), reg));
    expect(list.map((i) => i.message)).toContain('cycle: draft -> verify -> draft');
    expect(at(list, ['nodes', 2, 'after', 0]).message).toContain("'missing'");
    expect(at(list, ['output']).message).toContain("'gone'");
  });

  it('a route branch to a missing node', () => {
    const list = issues(parseTopology(base([{ id: 'r', kind: 'route', op: 'size', branches: { a: ['ghost'] } }]), reg));
    expect(at(list, ['nodes', 0, 'branches', 'a', 0]).message).toContain("'ghost'");
  });
});

describe('loadTopologyFile', () => {
  it('loads a YAML file and runs it end to end', async () => {
    const p = await file('pipeline.yaml', pipelineYaml);
    await expectPipelineRuns(ok(await loadTopologyFile(p, registry())));
  });

  it('loads a .yml file', async () => {
    const p = await file('pipeline.yml', pipelineYaml);
    expect(ok(await loadTopologyFile(p, registry())).name).toBe('doc-pipeline');
  });

  it('loads a JSON file and runs it end to end', async () => {
    const p = await file('pipeline.json', JSON.stringify(pipelineDoc, null, 2));
    await expectPipelineRuns(ok(await loadTopologyFile(p, registry())));
  });

  it('YAML args templates survive the YAML parser ($ is a plain scalar)', async () => {
    const p = await file('args.yaml', [
      'name: args',
      'output: t',
      'nodes:',
      '  - { id: normalize, kind: map, op: lower }',
      '  - id: t',
      '    kind: tool',
      '    tool: echoArgs',
      '    after: [normalize]',
      '    args:',
      '      q: $input.q',
      '      dep: $deps.normalize.text',
      '      lit: $$literal',
      '      list: [$input.q, 2]',
    ].join('\n'));
    const t = ok(await loadTopologyFile(p, registry()));
    const r = await createEngine().run(t, { q: 'ABC' });
    expect(r.output).toEqual({ q: 'ABC', dep: 'abc', lit: '$literal', list: ['ABC', 2] });
  });

  it('a malformed YAML document names nodes.1.cap and nodes.2.kind', async () => {
    const p = await file('bad-field.yaml', [
      'name: bad',
      'nodes:',
      '  - { id: a, kind: map, op: lower }',
      '  - { id: b, kind: map, op: lower, after: [a], cap: two }',
      '  - { id: c, kind: teleport }',
    ].join('\n'));
    const list = issues(await loadTopologyFile(p, registry()));
    at(list, ['nodes', 1, 'cap']);
    at(list, ['nodes', 2, 'kind']);
  });

  it('an unknown operator in a YAML file lists the registered ones', async () => {
    const p = await file('unknown-op.yaml', 'name: u\nnodes:\n  - { id: a, kind: map, op: echo }\n  - { id: b, kind: map, op: summarise, after: [a] }\n');
    const list = issues(await loadTopologyFile(p, createRegistry().map('echo', ({ input }) => input)));
    expect(at(list, ['nodes', 1, 'op']).message).toBe("unknown map operator 'summarise' (registered: echo)");
  });

  it('a YAML syntax error comes back as an issue with the file and line', async () => {
    const p = await file('syntax.yaml', 'name: x\nnodes:\n  - { id: a, kind: map\n  - op: [\n');
    const list = issues(await loadTopologyFile(p, registry()));
    expect(list[0]!.path).toEqual([]);
    expect(list[0]!.code).toBe('invalid_yaml');
    expect(list[0]!.message).toContain(p);
    expect(list[0]!.message).toMatch(/line \d+, column \d+/);
    expect(list[0]!.message.startsWith(`${p}:4:3: `)).toBe(true);
    expect(list.map((i) => i.code)).toEqual(list.map(() => 'invalid_yaml'));
  });

  it('a YAML alias bomb is an invalid_yaml issue, not a throw', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [k, name] of ['b', 'c', 'd', 'e', 'f'].entries()) levels.push(`${name}: &${name} [${Array(9).fill(`*${'abcde'[k]}`).join(', ')}]`);
    const p = await file('bomb.yaml', `${levels.join('\n')}\nname: bomb\nnodes: [{ id: a, kind: map, op: lower }]\n`);
    const list = issues(await loadTopologyFile(p, registry()));
    expect(list).toHaveLength(1);
    expect(list[0]!.code).toBe('invalid_yaml');
    expect(list[0]!.message).toContain(p);
    expect(list[0]!.message).toContain('alias');
  });

  it('invalid JSON comes back as an issue naming the file, with line and column', async () => {
    const p = await file('broken.json', '{\n  "name": "x",\n  nodes: []\n}');
    const list = issues(await loadTopologyFile(p, registry()));
    expect(list).toHaveLength(1);
    expect(list[0]!.path).toEqual([]);
    expect(list[0]!.code).toBe('invalid_json');
    expect(list[0]!.message).toContain(p);
    expect(list[0]!.message).toContain('not valid JSON');
    expect(list[0]!.message.startsWith(`${p}:3:3: not valid JSON: `)).toBe(true);
  });

  it('only JSON syntax errors are "not valid JSON": problems of a parsed document keep their own codes', async () => {
    const p = await file('loop.json', JSON.stringify({ name: 'loop', nodes: [
      { id: 'draft', kind: 'map', op: 'lower', after: ['verify'] },
      { id: 'verify', kind: 'map', op: 'lower', after: ['draft'] },
    ] }));
    expect(issues(await loadTopologyFile(p, registry()))).toEqual([{ code: 'cycle', path: ['nodes', 0], message: 'cycle: draft -> verify -> draft' }]);
  });

  describe('a 10 MB JSON topology (a 25,000-node chain)', () => {
    const SIZE = 25_000;
    const bigDoc = (close: boolean): string => JSON.stringify({
      name: 'big',
      output: `step${SIZE - 1}`,
      nodes: Array.from({ length: SIZE }, (_, i) => ({
        id: `step${i}`, kind: 'map', op: 'lower',
        after: i > 0 ? [`step${i - 1}`] : close ? [`step${SIZE - 1}`] : [],
        description: `step ${i} of the big chain `.padEnd(340, '.'),
      })),
    });

    it('is accepted', async () => {
      const text = bigDoc(false);
      expect(text.length).toBeGreaterThan(9_500_000);
      const t = ok(await loadTopologyFile(await file('big.json', text), registry()));
      expect(t.nodes).toHaveLength(SIZE);
      expect(t.nodes[SIZE - 1]!.after).toEqual([`step${SIZE - 2}`]);
    });

    it('with a cycle through every node, reports that cycle (bounded), not "not valid JSON"', async () => {
      const p = await file('big-loop.json', bigDoc(true));
      const list = issues(await loadTopologyFile(p, registry()));
      expect(list.map((i) => [i.code, i.path])).toEqual([['cycle', ['nodes', 0]]]);
      expect(list[0]!.message.startsWith('cycle: step0 -> step1 -> ')).toBe(true);
      expect(list[0]!.message).toContain(`… (${SIZE} nodes) …`);
      expect(list[0]!.message.endsWith(`-> step${SIZE - 1} -> step0`)).toBe(true);
      expect(list[0]!.message.length).toBeLessThan(500);
    });
  });

  it('a schema problem in a JSON file has a path', async () => {
    const p = await file('no-nodes.json', '{"name": "x"}');
    at(issues(await loadTopologyFile(p, registry())), ['nodes']);
  });

  it('a missing file is an issue, not a throw', async () => {
    const list = issues(await loadTopologyFile(joinPath(dir, 'does-not-exist.yaml'), registry()));
    expect(list[0]!.message).toContain('cannot read');
  });

  it('registering a name twice replaces the earlier entry', async () => {
    const reg = createRegistry().map('f', () => 1).map('f', () => 2);
    const t = ok(parseTopology({ name: 'twice', output: 'a', nodes: [{ id: 'a', kind: 'map', op: 'f' }] }, reg));
    expect((await createEngine().run(t, null)).output).toBe(2);
  });
});
