// The SLO rules file the README shows (topologies/slo.yaml) is valid, and the README shows it as it is.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSloRules } from '../src/observability/index.ts';

const file = readFileSync(new URL('../topologies/slo.yaml', import.meta.url), 'utf8');

describe('topologies/slo.yaml', () => {
  it('parses into the rules it names', () => {
    expect(parseSloRules(file).map((r) => [r.name, r.kind])).toEqual([['rag-errors', 'failure-rate'], ['rag-p99', 'p99-latency'], ['spend', 'cost-rate']]);
  });

  it('is shown in the README as it is', () => {
    expect(readFileSync(new URL('../README.md', import.meta.url), 'utf8')).toContain(`\`\`\`yaml\n${file}\`\`\``);
  });
});
