/**
 * PII: scan and redact a 2 KB prompt, as a policy check before a model call would.
 * @module
 */
import { createPiiRedactor, PiiVault } from '../../src/governance/index.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';

const SENTENCES = [
  'You are a support assistant for an online store. Answer politely and keep answers short.',
  'The customer writes that the parcel from order 58213 arrived damaged and asks for a refund or a replacement.',
  'Summarise the conversation below, list the actions the agent promised, and flag anything that needs a manager.',
  'Agent: I am sorry to hear that. Could you send a photo of the box and the item so we can open a claim with the carrier?',
  'Customer: Sure, I attached two photos. The corner of the box was crushed and the lamp inside has a cracked shade.',
  'Agent: Thank you. I have opened claim 7734 with the carrier and asked the warehouse to ship a replacement today.',
  'Customer: Great, thanks. Will I get a tracking number for the new parcel, and do I have to return the broken lamp?',
  'Agent: You will get tracking by email within a day, and no, please keep or recycle the broken one.',
];
// Three findings, as a real prompt might hold: an email, a US phone number and a card number.
const FINDINGS = ' Customer contact: jane.doe@example.com, +1 (415) 555-2671. Paid with card 4111 1111 1111 1111.';

/**
 * Findings no call has seen before: the i-th email, US phone number and Visa number (Luhn check
 * digit computed), for prompts whose values change every call, so the detectors' memos of recent
 * validations (libphonenumber, isEmail, card checks) and the HMAC memo never help.
 */
function freshFindings(i: number): string {
  const line = String(i % 10_000).padStart(4, '0');
  const body = `4${String(i).padStart(14, '0')}`;
  let sum = 0;
  for (let k = 0; k < body.length; k++) {
    let d = Number(body[body.length - 1 - k]);
    if (k % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  const card = `${body}${(10 - (sum % 10)) % 10}`.replace(/(\d{4})(?=\d)/g, '$1 ');
  return ` Customer contact: user${i}@example.com, +1 (415) 555-${line}. Paid with card ${card}.`;
}

/** A flat 2,048-character prompt (joined, not concatenated piecewise), with or without findings. */
function prompt(withFindings: boolean | string): string {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < 2200; i++) {
    const s = SENTENCES[i % SENTENCES.length]!;
    parts.push(s);
    n += s.length + 1;
  }
  const body = parts.join(' ');
  const findings = withFindings === true ? FINDINGS : withFindings;
  return findings !== false ? body.slice(0, 2048 - findings.length) + findings : body.slice(0, 2048);
}

export const workload: Workload = {
  id: 'pii',
  title: 'PII scan and redaction of a 2 KB prompt',
  description: '`redact_us`: `redactSync` (HMAC hash mode, all built-in detectors) of a 2 KB prompt holding an email, a phone and a card number; `clean_us`: the same on a 2 KB prompt with nothing to find; `placeholder_us`: placeholder mode with a fresh run vault per call (`withVault`); `fresh_us`: `redact_us` with an email, phone and card number no earlier call held (what a value costs the first time it is seen: the validators and the HMAC run, none of their memos helps). Median of batches.',
  metrics: [
    { name: 'redact_us', unit: 'µs', better: 'lower', ratio: false },
    { name: 'clean_us', unit: 'µs', better: 'lower', ratio: false },
    { name: 'placeholder_us', unit: 'µs', better: 'lower', ratio: false },
    { name: 'fresh_us', unit: 'µs', better: 'lower', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'redact_us', op: '<=', value: 20, label: '≤ 20 µs per call' }],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 120_000),
  async run(ctx) {
    const hash = createPiiRedactor({ mode: 'hash', key: 'bench-key-0123456789abcdef' });
    const dirty = prompt(true);
    const clean = prompt(false);
    check(dirty.length, 2048, 'prompt length');
    check(hash.redactSync(dirty).matches.map((m) => m.type).join(','), 'email,phone,credit_card', 'findings');
    check(hash.redactSync(clean).matches.length, 0, 'clean prompt findings');
    const batch = 200;
    const batches = ctx.mode === 'quick' ? 20 : 100;
    const measure = (f: () => unknown): number => {
      for (let i = 0; i < batch * 5; i++) f();
      const times: number[] = [];
      for (let b = 0; b < batches; b++) {
        const t0 = performance.now();
        for (let i = 0; i < batch; i++) f();
        times.push(((performance.now() - t0) * 1000) / batch);
      }
      return median(times);
    };
    const redact_us = measure(() => hash.redactSync(dirty));
    const clean_us = measure(() => hash.redactSync(clean));
    const placeholder = createPiiRedactor({ mode: 'placeholder', vault: new PiiVault() });
    const placeholder_us = measure(() => placeholder.withVault(new PiiVault()).redactSync(dirty));
    // 4,096 prompts with distinct findings, built beforehand; more than any memo keeps, cycled.
    const fresh = Array.from({ length: 4096 }, (_, i) => prompt(freshFindings(i)));
    check(hash.redactSync(fresh[7]!).matches.map((m) => m.type).join(','), 'email,phone,credit_card', 'fresh findings');
    let next = 0;
    const fresh_us = measure(() => hash.redactSync(fresh[next++ & 4095]!));
    ctx.log(`redact ${redact_us.toFixed(1)} µs, clean ${clean_us.toFixed(1)} µs, placeholder ${placeholder_us.toFixed(1)} µs, fresh ${fresh_us.toFixed(1)} µs`);
    return { redact_us, clean_us, placeholder_us, fresh_us };
  },
};
