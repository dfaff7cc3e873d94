/**
 * Topologies written as JSON or YAML. The document is validated with zod, names
 * are resolved against a {@link Registry}, and the graph is checked; every
 * problem comes back as an issue with the path of the bad field.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { toIssues, type Issue } from '../errors.ts';
import { ExperimentSpecSchema, VersionSchema, validateTopology } from '../compiler/validate.ts';
import type { Registry } from './registry.ts';
import type { NodeContext, NodeDef, Topology } from '../definition/types.ts';
import { map } from '../../operators/map.ts';
import { route } from '../../operators/route.ts';
import { join } from '../../operators/join.ts';
import { tool } from '../../operators/tool.ts';
import { fanOut } from '../../operators/fanOut.ts';
import { subTopology } from '../../operators/subTopology.ts';

const id = z.string().min(1);
const common = {
  id,
  after: z.array(id).optional(),
  cap: z.number().int().positive().optional(),
  pool: z.union([id, z.array(id)]).optional(),
  timeoutMs: z.number().positive().optional(),
  onError: id.optional(),
  with: z.record(z.string(), z.unknown()).optional(),
  outputSchema: id.optional(),
  description: z.string().optional(),
};

/**
 * zod schema of a topology document (JSON or YAML).
 *
 * @example
 * ```ts
 * TopologyDocSchema.parse({ name: 'qa', experiment: { variants: { control: { weight: 1 } } }, nodes: [{ id: 'a', kind: 'map', op: 'upper' }] });
 * ```
 */
export const TopologyDocSchema = z.strictObject({
  name: id,
  description: z.string().optional(),
  input: id.optional().describe('name of a registered input schema'),
  output: id.optional().describe('node whose output is the run output'),
  maxInFlight: z.number().int().positive().optional(),
  experiment: ExperimentSpecSchema.optional().describe('an A/B experiment: variants, their weights and what each changes on llm nodes'),
  version: VersionSchema.optional().describe('your own version of this definition, recorded with durable runs instead of the computed hash'),
  resumes: z.array(VersionSchema).optional().describe('versions of earlier definitions whose durable runs this one resumes'),
  nodes: z.array(
    z.discriminatedUnion('kind', [
      z.strictObject({ ...common, kind: z.literal('map'), op: id }),
      z.strictObject({ ...common, kind: z.literal('tool'), tool: id, args: z.record(z.string(), z.unknown()).optional() }),
      z.strictObject({ ...common, kind: z.literal('route'), op: id, branches: z.record(id, z.union([id, z.array(id)])) }),
      z.strictObject({ ...common, kind: z.literal('join'), op: id.optional(), after: z.array(id).min(1) }),
      z.strictObject({ ...common, kind: z.literal('fanOut'), op: id, itemCap: z.number().int().positive().optional() }),
      z.strictObject({ ...common, kind: z.literal('topology'), topology: id, inputOp: id.optional() }),
    ]),
  ).min(1),
});

/** A topology document, as written. */
export type TopologyDoc = z.input<typeof TopologyDocSchema>;

/** Outcome of {@link parseTopology}: a topology, or every issue found. */
export type ParseResult =
  | { readonly ok: true; readonly topology: Topology }
  | { readonly ok: false; readonly issues: readonly Issue[] };

type NodeDoc = z.output<typeof TopologyDocSchema>['nodes'][number];

/**
 * Builds a topology from a parsed JSON/YAML document and a registry.
 *
 * @example
 * ```ts
 * const r = parseTopology(JSON.parse(text), ops);
 * if (!r.ok) for (const i of r.issues) console.error(`${i.path.join('.')}: ${i.message}`);
 * ```
 */
export function parseTopology(doc: unknown, registry: Registry): ParseResult {
  const parsed = TopologyDocSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error.issues) };
  const d = parsed.data;
  const issues: Issue[] = [];
  const lookup = <T>(table: ReadonlyMap<string, T>, name: string, what: string, path: (string | number)[]): T | undefined => {
    const found = table.get(name);
    if (found === undefined) {
      const known = [...table.keys()];
      issues.push({ code: 'unknown_name', path, message: `unknown ${what} '${name}' (registered: ${known.length ? known.join(', ') : 'none'})` });
    }
    return found;
  };
  const nodes: NodeDef[] = [];
  d.nodes.forEach((n, i) => {
    const at = (field: string): (string | number)[] => ['nodes', i, field];
    const output = n.outputSchema === undefined ? undefined : lookup(registry.schemas, n.outputSchema, 'schema', at('outputSchema'));
    const spec = specOf(n, output);
    let def: NodeDef | undefined;
    switch (n.kind) {
      case 'map': {
        const fn = lookup(registry.maps, n.op, 'map operator', at('op'));
        if (fn) def = map(n.id, { ...spec, run: fn });
        break;
      }
      case 'route': {
        const fn = lookup(registry.routes, n.op, 'route operator', at('op'));
        if (fn) def = route(n.id, { ...spec, branches: n.branches, select: fn });
        break;
      }
      case 'join': {
        const fn = n.op === undefined ? undefined : lookup(registry.joins, n.op, 'join operator', at('op'));
        if (n.op === undefined || fn) def = join(n.id, { ...spec, after: n.after, ...(fn ? { run: fn } : {}) });
        break;
      }
      case 'tool': {
        const t = lookup(registry.tools, n.tool, 'tool', at('tool'));
        const template = n.args ?? {};
        if (t) def = tool(n.id, { ...spec, tool: t, args: (ctx) => resolveArgs(template, ctx as NodeContext) });
        break;
      }
      case 'fanOut': {
        const f = lookup(registry.fanOuts, n.op, 'fan-out operator', at('op'));
        if (f) def = fanOut(n.id, { ...spec, items: f.items, each: f.each, ...(n.itemCap === undefined ? {} : { itemCap: n.itemCap }) });
        break;
      }
      case 'topology': {
        const t = lookup(registry.topologies, n.topology, 'topology', at('topology'));
        const makeInput = n.inputOp === undefined ? undefined : lookup(registry.maps, n.inputOp, 'map operator', at('inputOp'));
        if (t) def = subTopology(n.id, { ...spec, topology: t, ...(makeInput ? { input: makeInput } : {}) });
        break;
      }
    }
    if (def) nodes.push(def);
  });
  const input = d.input === undefined ? undefined : lookup(registry.schemas, d.input, 'schema', ['input']);
  if (issues.length > 0) return { ok: false, issues };
  const t: { -readonly [K in keyof Topology]: Topology[K] } = { name: d.name, nodes };
  if (d.description !== undefined) t.description = d.description;
  if (input !== undefined) t.input = input;
  if (d.output !== undefined) t.output = d.output;
  if (d.maxInFlight !== undefined) t.maxInFlight = d.maxInFlight;
  if (d.experiment !== undefined) t.experiment = d.experiment;
  if (d.version !== undefined) t.version = d.version;
  if (d.resumes !== undefined) t.resumes = d.resumes;
  const v = validateTopology(t);
  return v.ok ? { ok: true, topology: t } : { ok: false, issues: v.issues };
}

function specOf(n: NodeDoc, output: z.ZodType | undefined): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  if (n.after !== undefined) s['after'] = n.after;
  if (n.cap !== undefined) s['cap'] = n.cap;
  if (n.pool !== undefined) s['pool'] = n.pool;
  if (n.timeoutMs !== undefined) s['timeoutMs'] = n.timeoutMs;
  if (n.onError !== undefined) s['onError'] = n.onError;
  if (n.with !== undefined) s['config'] = n.with;
  if (n.description !== undefined) s['description'] = n.description;
  if (output !== undefined) s['output'] = output;
  return s;
}

/**
 * Resolves a tool-argument template: a string `$input.a.b` or `$deps.node.field`
 * is replaced by that value; `$$` starts a literal `$`. Other values are kept.
 */
export function resolveArgs(template: unknown, ctx: NodeContext): unknown {
  if (typeof template === 'string') {
    if (template.startsWith('$$')) return template.slice(1);
    if (template === '$input' || template.startsWith('$input.')) return pathGet(ctx.input, template.slice(7));
    if (template.startsWith('$deps.')) return pathGet(ctx.deps, template.slice(6));
    return template;
  }
  if (Array.isArray(template)) return template.map((v) => resolveArgs(v, ctx));
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, resolveArgs(v, ctx)]));
  }
  return template;
}

function pathGet(value: unknown, path: string): unknown {
  if (path === '') return value;
  let cur = value;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Reads a `.json`, `.yaml` or `.yml` topology file. Syntax errors come back as
 * issues (`invalid_json`, `invalid_yaml`) whose message starts with `file:line:col:`;
 * every problem of a well-formed document keeps its own code and path.
 * Never throws.
 *
 * @example
 * ```ts
 * const r = await loadTopologyFile('topologies/rag.yaml', ops);
 * if (!r.ok) for (const i of r.issues) console.error(`[${i.code}] ${i.message}`);
 * ```
 */
export async function loadTopologyFile(path: string, registry: Registry): Promise<ParseResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { ok: false, issues: [{ code: 'read_failed', path: [], message: `cannot read ${path}: ${(e as Error).message}` }] };
  }
  const doc = extname(path).toLowerCase() === '.json' ? readJson(path, text) : readYaml(path, text);
  return doc.ok ? parseTopology(doc.value, registry) : { ok: false, issues: doc.issues };
}

type Read = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: readonly Issue[] };

/** Only what `JSON.parse` throws is "not valid JSON". */
function readJson(path: string, text: string): Read {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    const where = at === null ? '' : `:${lineCol(text, Number(at[1]))}`;
    return { ok: false, issues: [{ code: 'invalid_json', path: [], message: `${path}${where}: not valid JSON: ${message}` }] };
  }
}

/** YAML syntax errors, and what the YAML library refuses to build (an alias bomb), are `invalid_yaml`. */
function readYaml(path: string, text: string): Read {
  const invalid = (message: string, pos?: { line: number; col: number }): Issue => ({
    code: 'invalid_yaml', path: [], message: `${path}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}: ${message}`,
  });
  try {
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) return { ok: false, issues: doc.errors.map((e) => invalid(e.message, e.linePos?.[0])) };
    return { ok: true, value: doc.toJS() };
  } catch (e) {
    return { ok: false, issues: [invalid((e as Error).message)] };
  }
}

/** `line:col` (both from 1) of a character offset. */
function lineCol(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `${line}:${offset - start + 1}`;
}
