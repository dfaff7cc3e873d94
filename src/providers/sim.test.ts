// The simulated provider's text splitting is linear: the same matches as the regexes it replaces on
// small inputs, and inputs of the shapes that made those regexes quadratic (a long run without a
// sentence terminator, a long run of trailing whitespace) are handled at 200,000 characters.
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createSimProvider, sentencesOf, simTokens } from './sim.ts';
import type { ProviderEvent } from './types.ts';

/** Deterministic strings over an alphabet that hits every branch (terminators, newline, spaces). */
function samples(count: number, alphabet: string, maxLength: number): string[] {
  let a = 7;
  const rand = (): number => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: count }, () => Array.from({ length: Math.floor(rand() * maxLength) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''));
}

const textOf = (events: ProviderEvent[]): string => events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');

describe('sim text splitting', () => {
  it('sentencesOf finds what /[^.!?\\n]+[.!?]/g finds', () => {
    for (const s of [...samples(2000, 'ab .!?\n', 40), '', 'One. Two!\nThree? four', '...', 'a\n.b.']) {
      expect(sentencesOf(s), JSON.stringify(s)).toEqual(s.match(/[^.!?\n]+[.!?]/g) ?? []);
    }
  });

  it('simTokens finds what /\\s*\\S+/g finds', () => {
    for (const s of [...samples(2000, 'ab \t\n', 40), '', '   ', ' a ', '\u00a0x\u2003']) {
      expect(simTokens(s), JSON.stringify(s)).toEqual(s.match(/\s*\S+/g) ?? []);
    }
  });

  it('answers a 200,000-character prompt with no sentence terminator and a long whitespace tail', async () => {
    const sim = createSimProvider();
    const prompt = `${'word '.repeat(20_000)}${'a'.repeat(100_000)}${' '.repeat(50_000)}`;
    expect(prompt.length).toBe(250_000);
    const events = await lastValueFrom(sim.stream({ model: 'fast', messages: [{ role: 'user', content: prompt }], maxTokens: 20 }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'usage', usage: { outputTokens: 20 } });
    expect(textOf(events).length).toBeGreaterThan(0);
    // a scripted answer that is mostly trailing whitespace
    const scripted = createSimProvider({ respond: () => `done${' '.repeat(200_000)}` });
    const out = await lastValueFrom(scripted.stream({ model: 'fast', messages: [{ role: 'user', content: 'q' }] }).pipe(toArray()));
    expect(textOf(out)).toBe('done');
  });
});
