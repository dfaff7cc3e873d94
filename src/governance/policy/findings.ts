/**
 * What one scan of a check's texts found (the prompt's messages, the strings of a run's input
 * or of a tool call's arguments, an answer), and the replacements redact rules made: texts are
 * scanned once, every later rule reads the same findings, and a redacted finding no longer
 * counts for later data-class matches. `stringsOf` and `withStrings` take a JSON-like value's
 * strings out and put the redacted ones back in the same shape.
 *
 * @example
 * ```ts
 * const f = new Findings(['mail ada@example.com'], [scanner.scanSync('mail ada@example.com')]);
 * f.has(new Set(['email']));                 // true
 * f.replace(undefined, () => '****');        // true
 * f.texts();                                 // ['mail ****']
 * ```
 * @module
 */
import type { PiiMatch } from '../pii/types.ts';

/**
 * The findings of one check and what redaction made of them.
 *
 * @example
 * ```ts
 * if (findings.replace(new Set(['email']), (m) => vault.placeholder(m.type, m.value))) request = rebuild(findings.texts());
 * ```
 */
export class Findings {
  readonly #texts: readonly string[];
  readonly #matches: readonly (readonly PiiMatch[])[];
  /** Per text, per match: its replacement once a redact rule took it. */
  readonly #replaced: (string | undefined)[][];
  #changed = false;
  #version = 0;

  constructor(texts: readonly string[], matches: readonly (readonly PiiMatch[])[]) {
    this.#texts = texts;
    this.#matches = matches;
    this.#replaced = matches.map(() => []);
  }

  /** How many replacements changed the texts so far (what {@link texts} returns changes with it). */
  get version(): number {
    return this.#version;
  }

  /** Whether any text changed. */
  get changed(): boolean {
    return this.#changed;
  }

  /** Whether a finding not yet redacted is of one of `kinds` (any kind when undefined). */
  has(kinds: ReadonlySet<string> | undefined): boolean {
    for (let t = 0; t < this.#matches.length; t++) {
      const ms = this.#matches[t]!;
      const rep = this.#replaced[t]!;
      for (let i = 0; i < ms.length; i++) if (rep[i] === undefined && (kinds === undefined || kinds.has(ms[i]!.type))) return true;
    }
    return false;
  }

  /** The kinds found and not yet redacted. */
  kinds(): string[] {
    const out = new Set<string>();
    this.#matches.forEach((ms, t) => ms.forEach((m, i) => {
      if (this.#replaced[t]![i] === undefined) out.add(m.type);
    }));
    return [...out];
  }

  /** Replaces every finding of `kinds` (all when undefined) not yet redacted; whether any was. */
  replace(kinds: ReadonlySet<string> | undefined, by: (m: PiiMatch) => string): boolean {
    let any = false;
    for (let t = 0; t < this.#matches.length; t++) {
      const ms = this.#matches[t]!;
      const rep = this.#replaced[t]!;
      for (let i = 0; i < ms.length; i++) {
        const m = ms[i]!;
        if (rep[i] !== undefined || (kinds !== undefined && !kinds.has(m.type))) continue;
        rep[i] = by(m);
        any = true;
      }
    }
    if (any) {
      this.#changed = true;
      this.#version++;
    }
    return any;
  }

  /** The texts with every replacement made (the same strings when nothing was redacted). */
  texts(): string[] {
    return this.#texts.map((text, t) => {
      const ms = this.#matches[t]!;
      const rep = this.#replaced[t]!;
      if (rep.length === 0) return text;
      let out = '';
      let at = 0;
      for (let i = 0; i < ms.length; i++) {
        const r = rep[i];
        if (r === undefined) continue;
        out += text.slice(at, ms[i]!.start) + r;
        at = ms[i]!.end;
      }
      return out + text.slice(at);
    });
  }
}

/**
 * Every string of a JSON-like value (a run's input, a tool's arguments), depth first; repeated objects once.
 *
 * @example
 * ```ts
 * stringsOf({ q: 'hi', tags: ['a', 'b'] }); // ['hi', 'a', 'b']
 * ```
 */
export function stringsOf(value: unknown, out: string[] = [], seen: Set<object> = new Set()): string[] {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    if (Array.isArray(value)) for (const v of value) stringsOf(v, out, seen);
    else for (const k of Object.keys(value)) stringsOf((value as Record<string, unknown>)[k], out, seen);
  }
  return out;
}

/**
 * A copy of `value` whose strings are `texts`, taken in {@link stringsOf}'s order (the texts a
 * scan of `value` was made on, redacted): the same shape, arrays staying arrays, objects keeping
 * their keys and prototype, an object met twice copied once; a part none of whose strings
 * changed is the original itself (the whole value when nothing changed).
 *
 * @example
 * ```ts
 * const args = { to: ['ada@example.com'], n: 2 };
 * withStrings(args, ['****']); // { to: ['****'], n: 2 }
 * ```
 */
export function withStrings(value: unknown, texts: readonly string[]): unknown {
  let at = 0;
  let changes = 0;
  const copies = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const t = texts[at++];
      if (t === undefined || t === v) return v;
      changes++;
      return t;
    }
    if (typeof v !== 'object' || v === null) return v;
    if (copies.has(v)) {
      // met before: its copy (a changed part, or one still being walked: a cycle) makes this part changed too
      const c = copies.get(v);
      if (c !== v) changes++;
      return c;
    }
    const before = changes;
    const source = v as Record<string, unknown>;
    const copy: Record<string, unknown> = Array.isArray(v) ? ([] as unknown as Record<string, unknown>) : Object.create(Object.getPrototypeOf(v) as object | null) as Record<string, unknown>;
    // registered before its parts are walked: a part pointing back at it gets the copy
    copies.set(v, copy);
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) copy[i] = walk(v[i]);
    else for (const k of Object.keys(v)) copy[k] = walk(source[k]);
    if (changes !== before) return copy;
    copies.set(v, v);
    return v;
  };
  return walk(value);
}
