/**
 * W21: what policy checks cost a model call. One llm node on `sim:fast` with a 2 KB prompt that
 * holds an email, a phone number and a card number runs one at a time on four engines in one
 * process: without a guard, with an allow-all guard (the engine's part), with a policy guard
 * holding no rules, and with a realistic rule set (eight rules: run and output rules,
 * deny/route/approval/cap rules matched on subject fields, a data-class rule and a redaction of
 * every PII kind). Targets: ≤ 20 µs added per call with PII redaction; without rules, nothing
 * measurable.
 * @module
 */
import * as z from 'zod';
import { createEngine, createModels, createSimProvider, topology, type AnyTopology, type CallCheck, type CallVerdict, type Guard, type RunVerdict } from '../../src/index.ts';
import { createPiiScanner, createPolicyGuard, type PolicyDocumentInput } from '../../src/governance/index.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';
import { cpuPerRun, cpuUs } from '../lib/cpu.ts';

const SENTENCES = [
  'You are a support assistant for an online store. Answer politely and keep answers short.',
  'The customer writes that the parcel from order 58213 arrived damaged and asks for a refund or a replacement.',
  'Summarise the conversation below, list the actions the agent promised, and flag anything that needs a manager.',
  'Agent: I am sorry to hear that. Could you send a photo of the box and the item so we can open a claim with the carrier?',
  'Customer: Sure, I attached two photos. The corner of the box was crushed and the lamp inside has a cracked shade.',
  'Agent: Thank you. I have opened claim 7734 with the carrier and asked the warehouse to ship a replacement today.',
];
const FINDINGS = ' Customer contact: jane.doe@example.com, +1 (415) 555-2671. Paid with card 4111 1111 1111 1111.';

/** A 2,048-character prompt ending with three findings; `i` varies its first characters so no two runs share a prompt. */
function prompt(i: number): string {
  const parts: string[] = [];
  for (let n = 0, k = 0; n < 2300; k++) {
    const s = SENTENCES[k % SENTENCES.length]!;
    parts.push(s);
    n += s.length + 1;
  }
  const head = `Ticket ${String(i % 1000).padStart(4, '0')}. `;
  return (head + parts.join(' ')).slice(0, 2048 - FINDINGS.length) + FINDINGS;
}

/** Eight rules as a deployment might hold them; for the runs measured, the cap and the redaction apply. */
const RULES: PolicyDocumentInput = {
  version: 1,
  tenants: { acme: { weight: 2 } },
  rules: [
    { name: 'suspended', stage: 'run', match: { tenant: 'suspended-*' }, action: 'deny' },
    { name: 'blocked', match: { tenant: ['blocked', 'trial-expired-*'] }, action: 'deny', message: 'this tenant may not call models' },
    { name: 'interns-cheap', match: { user: 'intern-*' }, action: 'route', route: { model: 'sim:fast' } },
    { name: 'o3-approval', match: { model: 'openai:o3*' }, action: 'approval', approval: { name: 'approve-o3' } },
    { name: 'acme-cap', match: { tenant: 'acme', project: 'support*' }, action: 'cap', cap: { maxTokens: 16 } },
    { name: 'no-keys', match: { dataClass: ['api_key', 'jwt'] }, action: 'deny', message: 'credentials must not reach a model' },
    { name: 'pii', action: 'redact', redact: { mode: 'mask' } },
    { name: 'no-keys-out', stage: 'output', match: { dataClass: 'api_key' }, action: 'deny' },
  ],
};

/** The simulated model's 16-token answer: scripted, so the engines measured do not also pay for the simulator making prose out of a 2 KB prompt. */
const ANSWER = 'Thanks for the photos: claim 7734 is open with the carrier and a replacement lamp ships today.';

const ALLOW_RUN: RunVerdict = { action: 'allow' };
const ALLOW_CALL: CallVerdict = { action: 'allow' };

function qa(): AnyTopology {
  return topology('w21', { input: z.object({ prompt: z.string() }), maxInFlight: 1024 })
    .llm('answer', { model: 'sim:fast', prompt: ({ input }) => input.prompt, maxTokens: 16 })
    .build({ output: 'answer' });
}

export const workload: Workload = {
  id: 'w21',
  title: 'Policy checks per model call: a realistic rule set with PII redaction, no rules, no guard',
  description: 'One llm node on `sim:fast` (no delay, a scripted 16-token answer, so the run is cheap and the guard\'s part shows rather than the simulator turning the prompt into prose; the cap rule caps at 16, so every engine streams the same tokens) with a 2 KB prompt holding an email, a phone and a card number, run one at a time (tenant `acme`, project `support`) on four engines in one process: `none` (no guard), `seam` (a guard allowing everything at once: the engine\'s own part, building each check with its estimate and asking), `empty` (`createPolicyGuard()` with no rules) and `rules` (eight rules: a run rule, deny, route and approval rules that do not match, a cap that does, a data-class deny that scans, a mask redaction of every PII kind, and an output rule that scans the answer); the redaction is checked (the provider sees `****`). CPU time of the process per run (one call per run), alternating blocks of 1,000 runs, median of 15 blocks (quick: 5); `added_us`, `empty_added_us`, `seam_added_us` are medians of the per-block differences to `none`, `ours_added_us` and `ours_empty_us` to `seam` (the policy guard\'s own part), `ratio` of rules ÷ none. `direct_us`: `guard.call` alone on the same check (the rule evaluation, the one scan and the redaction, no engine); `scan_us`: the pii module\'s scan of that prompt alone (the floor of any PII rule). llm-orchestrator only.',
  metrics: [
    { name: 'none_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'seam_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'empty_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'rules_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'added_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'empty_added_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'seam_added_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'ours_added_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'ours_empty_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'ratio', unit: '×', better: 'lower', ratio: false },
    { name: 'direct_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
    { name: 'scan_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'added_us', op: '<=', value: 20, label: '≤ 20 µs added per call with PII redaction' },
    { kind: 'value', metric: 'ours_added_us', op: '<=', value: 20, label: 'the policy guard\'s part (over an allow-all guard) ≤ 20 µs' },
    { kind: 'value', metric: 'ours_empty_us', op: '<=', value: 1, label: 'no rules: nothing measurable over an allow-all guard (≤ 1 µs)' },
  ],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 90_000 : 240_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w21 measures llm-orchestrator's policy guard, not ${ctx.system.id}`);
    const t = qa();
    const prompts = Array.from({ length: 1000 }, (_, i) => prompt(i));
    check(prompts[0]!.length, 2048, 'prompt length');
    const rules = createPolicyGuard({ document: RULES });
    // the engine's part: a guard that allows everything at once (the seam builds the check and its estimate, asks, applies)
    const seam: Guard = { run: () => ALLOW_RUN, call: () => ALLOW_CALL };
    const runner = (mode: 'none' | 'seam' | 'empty' | 'rules'): ((i: number) => Promise<void>) => {
      const models = createModels({ providers: [createSimProvider({ respond: () => ANSWER })] });
      const engine = createEngine(mode === 'none' ? { models } : { models, guard: mode === 'seam' ? seam : mode === 'empty' ? createPolicyGuard() : rules });
      return async (i) => {
        const r = await engine.run(t, { prompt: prompts[i % 1000]! }, { tenant: 'acme', user: 'u1', project: 'support' });
        if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
      };
    };
    const variants: readonly [string, (i: number) => Promise<void>][] = [['none', runner('none')], ['seam', runner('seam')], ['empty', runner('empty')], ['rules', runner('rules')]];
    const block = 1_000;
    const blocks = ctx.mode === 'quick' ? 5 : 15;
    const times = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    for (const [, f] of variants) await cpuPerRun(f, block);
    check(rules.stats().changed >= block, true, 'the rules changed every call');
    for (let b = 0; b < blocks; b++) {
      for (let j = 0; j < variants.length; j++) {
        const [k, f] = variants[(b + j) % variants.length]!;
        times.get(k)!.push(await cpuPerRun(f, block));
      }
    }
    const none = times.get('none')!;
    const diff = (k: string, base = none): number => median(times.get(k)!.map((x, i) => x - base[i]!));
    const seamTimes = times.get('seam')!;
    // the guard alone, on the check the engine builds for that call
    const callCheck = (i: number): CallCheck => ({
      runId: `r${i}`, topology: 'w21', tenant: 'acme', user: 'u1', project: 'support', nodeId: 'answer', model: 'sim:fast', provider: 'sim', attempt: 1,
      request: { model: 'fast', messages: [{ role: 'user', content: prompts[i % 1000]! }], maxTokens: 16 }, estimate: { inputTokens: 450, outputTokens: 16, costUsd: 0 }, estimateOn: () => undefined,
    });
    const checks = prompts.map((_, i) => callCheck(i));
    const v = rules.call(checks[0]!);
    if ('then' in v || v.action !== 'allow' || v.request?.maxTokens !== 16 || !v.request.messages[0]!.content.endsWith('card ****.')) {
      throw new Error(`the rules did not cap and redact: ${JSON.stringify(v).slice(-200)}`);
    }
    const scanner = createPiiScanner();
    const tight = (f: (i: number) => unknown): number => {
      const n = 20_000;
      const out: number[] = [];
      for (let b = 0; b < 5; b++) {
        const c0 = cpuUs();
        for (let i = 0; i < n; i++) f(i);
        out.push((cpuUs() - c0) / n);
      }
      return median(out);
    };
    const direct = tight((i) => rules.call(checks[i % 1000]!));
    const scan = tight((i) => scanner.scanSync(prompts[i % 1000]!));
    const m = (k: string): number => median(times.get(k)!);
    const ratio = median(times.get('rules')!.map((x, i) => x / none[i]!));
    ctx.log(`${m('none').toFixed(1)} µs/call no guard, ${m('seam').toFixed(1)} allow-all guard (+${diff('seam').toFixed(1)}), ${m('empty').toFixed(1)} policy guard without rules (+${diff('empty').toFixed(1)}; ${diff('empty', seamTimes).toFixed(1)} over allow-all), ${m('rules').toFixed(1)} with rules (+${diff('rules').toFixed(1)}, ${ratio.toFixed(2)}×; ${diff('rules', seamTimes).toFixed(1)} over allow-all); guard.call alone ${direct.toFixed(1)} µs, the scan alone ${scan.toFixed(1)} µs`);
    return {
      none_us: m('none'), seam_us: m('seam'), empty_us: m('empty'), rules_us: m('rules'), added_us: diff('rules'), empty_added_us: diff('empty'), seam_added_us: diff('seam'),
      ours_added_us: diff('rules', seamTimes), ours_empty_us: diff('empty', seamTimes), ratio, direct_us: direct, scan_us: scan,
    };
  },
};
