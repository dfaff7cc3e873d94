import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, defineTool, isNodeError, isValidationError, tool, topology, type Issue } from '../src/index.ts';
import { operatorConformance } from '../test/support/helpers.ts';

const issuesOf = (cause: unknown): readonly Issue[] => (isValidationError(cause) ? cause.issues : []);

describe('tool operator', () => {
  operatorConformance({
    nodeId: 'call',
    build: (behaviour) => {
      const times10 = defineTool({
        name: 'times10',
        input: z.object({ n: z.number() }),
        output: z.number(),
        run: ({ n }, { signal }) => behaviour(n, signal) as number | Promise<number>,
      });
      return topology('tool-conformance', { input: z.number() })
        .tool('call', { tool: times10, args: ({ input }) => ({ n: input }) })
        .build({ output: 'call' });
    },
    expected: (n) => n * 10,
  });

  const search = defineTool({
    name: 'search',
    description: 'finds documents',
    input: z.object({ query: z.string(), filter: z.object({ limit: z.number().int().default(3) }).default({ limit: 3 }) }),
    output: z.array(z.string()),
    run: ({ query, filter }) => Array.from({ length: filter.limit }, (_, i) => `${query}#${i}`),
  });

  it('tool() builds a tool NodeDef', () => {
    const def = tool('lookup', { tool: search, args: () => ({ query: 'x' }) });
    expect(def.kind).toBe('tool');
    expect(def.id).toBe('lookup');
  });

  it('passes the parsed arguments (defaults applied) and returns the validated result', async () => {
    const t = topology('tool-ok', { input: z.object({ q: z.string() }) })
      .tool('lookup', { tool: search, args: ({ input }) => ({ query: input.q }) })
      .build({ output: 'lookup' });
    const r = await createEngine().run(t, { q: 'rx' });
    expect(r.status).toBe('completed');
    expect(r.output).toEqual(['rx#0', 'rx#1', 'rx#2']);
  });

  it('bad arguments fail the node with TOOL_INPUT_INVALID naming the field path; the tool never runs', async () => {
    let ran = 0;
    const strict = defineTool({
      name: 'strict',
      input: z.object({ query: z.string(), filter: z.object({ limit: z.number() }) }),
      run: () => { ran++; return 'never'; },
    });
    const t = topology('tool-bad-args', { input: z.unknown() })
      .tool('lookup', { tool: strict, args: ({ input }) => input })
      .build({ output: 'lookup' });
    const engine = createEngine();
    const r = await engine.run(t, { query: 42, filter: { limit: 'ten' } });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TOOL_INPUT_INVALID');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('lookup');
    expect(r.error?.message).toContain("tool 'strict'");
    const paths = issuesOf(r.error?.cause).map((i) => i.path.join('.'));
    expect(paths.sort()).toEqual(['filter.limit', 'query']);
    expect((r.error?.cause as Error).message).toContain('filter.limit');
    expect(ran).toBe(0);
  });

  it('a bad result fails the node with TOOL_OUTPUT_INVALID naming the field path', async () => {
    const liar = defineTool({
      name: 'liar',
      input: z.object({}),
      output: z.object({ items: z.array(z.string()) }),
      run: async () => ({ items: ['ok', 7] }) as unknown as { items: string[] },
    });
    const t = topology('tool-bad-result')
      .tool('call', { tool: liar, args: () => ({}) })
      .build({ output: 'call' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TOOL_OUTPUT_INVALID');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('call');
    expect(issuesOf(r.error?.cause).map((i) => i.path)).toEqual([['items', 1]]);
  });

  it('without an output schema the raw result is the node output', async () => {
    const raw = defineTool({ name: 'raw', input: z.string(), run: (s: string) => ({ len: s.length }) });
    const t = topology('tool-raw', { input: z.string() })
      .tool('call', { tool: raw, args: ({ input }) => input })
      .build({ output: 'call' });
    expect((await createEngine().run(t, 'abcd')).output).toEqual({ len: 4 });
  });

  it('an args builder that throws fails the node', async () => {
    const t = topology('tool-args-throw')
      .tool('call', { tool: search, args: () => { throw new Error('no args'); } })
      .build();
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('call');
    expect(r.error?.message).toContain('no args');
  });

  it('the tool receives the node signal', async () => {
    let received: AbortSignal | undefined;
    const probe = defineTool({ name: 'probe', input: z.null(), run: (_: null, { signal }) => { received = signal; return signal.aborted; } });
    const t = topology('tool-signal').tool('call', { tool: probe, args: () => null }).build({ output: 'call' });
    const r = await createEngine().run(t, undefined);
    expect(r.output).toBe(false);
    expect(received).toBeInstanceOf(AbortSignal);
  });
});
