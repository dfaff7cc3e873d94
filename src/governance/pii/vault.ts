/**
 * The vault behind placeholder redaction: it remembers which original value each typed
 * placeholder (`[EMAIL_1]`) stands for, so a run can put the values back into a model's answer.
 * It lives in memory only and never serializes its contents.
 *
 * @example
 * ```ts
 * const vault = new PiiVault();
 * const { text } = redactPiiSync('mail ada@example.com', { mode: 'placeholder', vault });
 * // text === 'mail [EMAIL_1]'
 * vault.restore('Sent to [EMAIL_1].'); // 'Sent to ada@example.com.'
 * ```
 * @module
 */

const PLACEHOLDER = /\[([A-Z][A-Z0-9_]*)_(\d+)\]/g;

/**
 * Maps placeholders to original values for one run. The same value of the same type always gets
 * the same placeholder within one vault. Keep one vault per run and drop it when the run ends:
 * that is what makes placeholder redaction reversible only inside the run. `toJSON` and
 * inspection show only the number of entries, so a vault that reaches an event or a log leaks
 * nothing.
 *
 * @example
 * ```ts
 * const vault = new PiiVault();
 * vault.placeholder('email', 'ada@example.com'); // '[EMAIL_1]'
 * vault.placeholder('email', 'ada@example.com'); // '[EMAIL_1]' again
 * ```
 */
export class PiiVault {
  readonly #byPlaceholder = new Map<string, string>();
  readonly #byValue = new Map<string, string>();
  readonly #counters = new Map<string, number>();

  /** Number of placeholders handed out. */
  get size(): number {
    return this.#byPlaceholder.size;
  }

  /** The placeholder for `value` of `type` (`[TYPE_n]`), making a new one the first time. */
  placeholder(type: string, value: string): string {
    const label = type.toUpperCase();
    const key = `${label}\u0000${value}`;
    const known = this.#byValue.get(key);
    if (known !== undefined) return known;
    const n = (this.#counters.get(label) ?? 0) + 1;
    this.#counters.set(label, n);
    const ph = `[${label}_${n}]`;
    this.#byValue.set(key, ph);
    this.#byPlaceholder.set(ph, value);
    return ph;
  }

  /** The original value behind `placeholder`, if this vault handed it out. */
  lookup(placeholder: string): string | undefined {
    return this.#byPlaceholder.get(placeholder);
  }

  /**
   * Replaces every placeholder this vault handed out by its original value; other bracketed
   * text (including placeholders of another vault) stays as it is.
   */
  restore(text: string): string {
    if (this.#byPlaceholder.size === 0 || !text.includes('[')) return text;
    return text.replace(PLACEHOLDER, (ph) => this.#byPlaceholder.get(ph) ?? ph);
  }

  /** Forgets every entry (call when the run ends). */
  clear(): void {
    this.#byPlaceholder.clear();
    this.#byValue.clear();
    this.#counters.clear();
  }

  /** Only the size: a vault's contents never leave it by serialization. */
  toJSON(): { readonly piiVault: { readonly size: number } } {
    return { piiVault: { size: this.size } };
  }

  /** Node's `util.inspect` shows the size only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PiiVault { size: ${this.size} }`;
  }
}
