// `--governance` and `--audit` of the CLI: a rules file refusing a run (its rule named), budgets counted
// in the --store database, bad files named by field, audit records written and verified, governance
// documents published with `llmo policy apply` (target governance) and followed by a worker's guard.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { main, EXIT } from './main.ts';
import { policyCommand } from './commands/policy.ts';
import { loadGovernance } from './governance.ts';
import { followGovernance } from './governance-follow.ts';
import { silentLogger } from '../logger.ts';
import { readAuditTopic } from '../governance/audit/kafka.ts';
import { verifyAudit } from '../governance/audit/verify.ts';
import type { KafkaTransport } from '../transports/kafka/index.ts';
import { createMemoryTransport } from '../transports/index.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llmo-gov-'));
});
const file = async (name: string, text: string): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

const Q = '{"question":"Why RxJS?"}';

const RULES = `
policies:
  rules:
    - { name: no-free-tier, stage: run, match: { tenant: free }, action: deny, message: the free tier cannot run rag }
    - { name: mask-pii, action: redact, redact: { mode: mask } }
budgets:
  budgets:
    - { name: daily, per: tenant, period: day, limitUsd: 5 }
`;

describe('--governance', () => {
  it('llmo run refuses a run the rules deny, naming the rule, and runs the others', async () => {
    const rules = await file('gov.yaml', RULES);
    const denied = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', Q, '--governance', rules, '--tenant', 'free', '--no-tokens'], denied.io)).toBe(EXIT.runFailed);
    expect(denied.err()).toContain('the free tier cannot run rag');
    expect(denied.err()).toContain('no-free-tier');
    const allowed = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', Q, '--governance', rules, '--tenant', 'acme', '--no-tokens'], allowed.io), allowed.err()).toBe(EXIT.ok);
  });

  it('a bad rules file is refused before anything runs, naming the field', async () => {
    const bad = await file('bad.yaml', 'policies:\n  rules:\n    - { name: x, action: route }\nbudgets:\n  budgets: [{ name: d, per: tenant, period: week, limitUsd: 1 }]\n');
    const c = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', Q, '--governance', bad], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toMatch(/policies\.rules\.0/);
    const extra = await file('extra.yaml', 'policy: {}\n');
    const d = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', Q, '--governance', extra], d.io)).toBe(EXIT.invalid);
    expect(d.err()).toContain('policy');
  });

  it('budgets are counted in the ledger the file names (a SQLite file shared by two loads)', async () => {
    const ledger = join(dir, 'budgets.db');
    const rules = await file('ledger.yaml', `${RULES}ledger: sqlite:${ledger}\n`);
    const problems: string[] = [];
    const a = await loadGovernance(rules, { onProblem: (m) => problems.push(m) });
    const b = await loadGovernance(rules, { onProblem: (m) => problems.push(m) });
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(a.guards).toHaveLength(2);
    expect(a.ledger).toBe(`sqlite:${ledger}`);
    await a.close();
    await b.close();
    expect(problems).toEqual([]);
  });
});

describe('--audit', () => {
  it('llmo run writes hash-chained audit records that llmo audit verify accepts; a second run continues the chain', async () => {
    const audit = join(dir, 'audit.jsonl');
    for (let k = 0; k < 2; k++) {
      const c = capture();
      expect(await main(['run', 'topologies/rag.ts', '--input', Q, '--audit', audit, '--tenant', 'acme', '--no-tokens'], c.io), c.err()).toBe(EXIT.ok);
    }
    const v = capture();
    expect(await main(['audit', 'verify', '--file', audit], v.io), v.err()).toBe(EXIT.ok);
    // one stream per process and tenant: llmo-run/acme, continued by the second run
    expect(v.out()).toMatch(/^ok: \d+ records, 1 streams/);
  });
});

describe('governance documents on the policies topic', () => {
  it('llmo policy apply publishes a checked document (target governance); a following guard applies it; show prints it', async () => {
    const transport = Object.assign(createMemoryTransport({ prefix: 'gv' }), { ensureTopics: async () => undefined, close: async () => undefined }) as KafkaTransport;
    const open = () => ({ ok: true as const, transport });
    const flags = { brokers: '127.0.0.1:9092', prefix: 'gv' };
    const gov = await loadGovernance(await file('base.yaml', 'policies:\n  rules: []\n'), { onProblem: () => undefined });
    if (!gov.ok || gov.policy === undefined) throw new Error('no policy guard');
    const sub = await followGovernance(transport, gov.policy, silentLogger);
    const v2 = await file('v2.yaml', 'target: governance\ndocument:\n  rules:\n    - { name: cap, action: cap, cap: { maxTokens: 64 } }\n');
    const a = capture();
    expect(await policyCommand('apply', v2, flags, a.io, open), a.err()).toBe(EXIT.ok);
    expect(JSON.parse(a.out())).toMatchObject({ target: 'governance', version: 1, document: { rules: [{ name: 'cap' }] } });
    expect(gov.policy.stats().rules).toBe(1);
    const bad = await file('bad-gov.yaml', 'target: governance\ndocument:\n  rules:\n    - { name: cap, action: cap }\n');
    const b = capture();
    expect(await policyCommand('apply', bad, flags, b.io, open)).toBe(EXIT.invalid);
    expect(b.err()).toMatch(/document\.rules\.0/);
    const s = capture();
    expect(await policyCommand('show', 'governance', flags, s.io, open)).toBe(EXIT.ok);
    expect(JSON.parse(s.out())).toMatchObject([{ target: 'governance', version: 1 }]);
    // the publication is an admin action on the audit topic, its chain intact
    const audit = await readAuditTopic(transport);
    expect(audit.records.map((r) => (r as { action: string }).action)).toEqual(['admin.policy.apply']);
    expect(verifyAudit(audit.records).ok).toBe(true);
    sub.unsubscribe();
    await gov.close();
  });
});

describe('followGovernance', () => {
  it('an invalid document already on the topic is an error line naming its fields; the rules in force stay and later versions apply', async () => {
    const transport = createMemoryTransport({ prefix: 'gf' });
    const gov = await loadGovernance(await file('follow.yaml', 'policies:\n  rules: []\n'), { onProblem: () => undefined });
    if (!gov.ok || gov.policy === undefined) throw new Error('no policy guard');
    const lines: { level: string; obj: unknown; msg: string | undefined }[] = [];
    const log = {
      child: () => log,
      error: (obj: unknown, msg?: string) => void lines.push({ level: 'error', obj, msg }),
      warn: () => undefined,
      info: (obj: unknown, msg?: string) => void lines.push({ level: 'info', obj, msg }),
      debug: () => undefined,
    };
    const update = (version: number, document: unknown) => ({
      key: 'governance', value: { policyId: 'ops', version, target: 'governance', params: { document: JSON.stringify(document) }, reason: null, ts: 0 },
    });
    await transport.send('policy', [update(2, { rules: [{ name: 'cap', action: 'cap' }] })]);
    const sub = await followGovernance(transport, gov.policy, log as never);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['governance rules v2 refused; the rules in force (v0) stay']);
    expect(JSON.stringify(lines[0]!.obj)).toContain('rules');
    await transport.send('policy', [update(3, { rules: [{ name: 'cap', action: 'cap', cap: { maxTokens: 8 } }] })]);
    expect(gov.policy.version).toBe(3);
    sub.unsubscribe();
    await gov.close();
  });
});

