import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyVersion } from '../runtime/version.ts';
import { createRegistry } from './registry.ts';
import { loadTopologyFile, parseTopology } from './load.ts';

const ops = createRegistry()
  .map('upper', ({ input }) => String(input).toUpperCase())
  .route('byVariant', (ctx) => (ctx.variant === 'brief' ? 'brief' : 'full'));

const doc = (experiment?: unknown) => ({
  name: 'qa',
  ...(experiment === undefined ? {} : { experiment }),
  nodes: [
    { id: 'pick', kind: 'route', op: 'byVariant', branches: { brief: 'short', full: 'long' } },
    { id: 'short', kind: 'map', op: 'upper', after: ['pick'] },
    { id: 'long', kind: 'map', op: 'upper', after: ['pick'] },
  ],
});

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(joinPath(tmpdir(), 'llmo-documents-experiment-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('topology documents with an experiment', () => {
  it('carry the experiment onto the topology (and into its version)', () => {
    const experiment = { stickyBy: 'tenant', control: 'full', variants: { full: { weight: 90 }, brief: { weight: 10, description: 'shorter' } } };
    const r = parseTopology(doc(experiment), ops);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.topology.experiment).toEqual(experiment);
    const plain = parseTopology(doc(), ops);
    expect(plain.ok && plain.topology.experiment).toBe(undefined);
    expect(plain.ok && topologyVersion(plain.topology)).not.toBe(topologyVersion(r.topology));
  });

  it('name a bad experiment field by its path', () => {
    const r = parseTopology(doc({ variants: { full: { weight: 1 }, brief: { weight: 'ten' } } }), ops);
    expect(r.ok ? [] : r.issues.map((i) => [i.code, i.path.join('.')])).toEqual([['invalid_type', 'experiment.variants.brief.weight']]);
  });

  it('check the experiment against the graph: variants change llm nodes only', () => {
    const r = parseTopology(doc({ variants: { full: { weight: 1, nodes: { short: { model: 'sim:x' } } } } }), ops);
    expect(r.ok ? [] : r.issues.map((i) => [i.code, i.path.join('.')])).toEqual([['not_llm_node', 'experiment.variants.full.nodes.short']]);
  });

  it('load from YAML', async () => {
    const path = joinPath(dir, 'qa.yaml');
    await writeFile(path, [
      'name: qa',
      'experiment:',
      '  stickyBy: user',
      '  variants:',
      '    full: { weight: 3 }',
      '    brief: { weight: 1 }',
      'nodes:',
      '  - { id: pick, kind: route, op: byVariant, branches: { brief: short, full: long } }',
      '  - { id: short, kind: map, op: upper, after: [pick] }',
      '  - { id: long, kind: map, op: upper, after: [pick] }',
      '',
    ].join('\n'), 'utf8');
    const r = await loadTopologyFile(path, ops);
    expect(r.ok && r.topology.experiment).toEqual({ stickyBy: 'user', variants: { full: { weight: 3 }, brief: { weight: 1 } } });
  });
});
