/**
 * SIMULATED language model for the demo topologies: no network, no API keys.
 * It writes deterministic text from its sources with realistic timing (time to
 * first token, then a delay per token) and honours the AbortSignal. The real
 * providers and the `sim:` provider arrive with the `llm` operator.
 * @module
 */

/** Options of one simulated completion. */
export interface SimulatedOptions {
  readonly signal: AbortSignal;
  /** Time to first token, ms. Default 120. */
  readonly ttftMs?: number;
  /** Delay per token, ms. Default 4. */
  readonly tokenMs?: number;
  readonly maxTokens?: number;
}

/** A finished simulated completion. */
export interface SimulatedCompletion {
  readonly model: 'simulated';
  readonly text: string;
  readonly tokens: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * "Generates" text made of the given sentences, token by token.
 *
 * @example
 * ```ts
 * const c = await simulateCompletion(['Backpressure bounds memory.'], { signal });
 * ```
 */
export async function simulateCompletion(sentences: readonly string[], options: SimulatedOptions): Promise<SimulatedCompletion> {
  const tokens = sentences.join(' ').split(/(?<=\s)/).slice(0, options.maxTokens ?? 400);
  await sleep(options.ttftMs ?? 120, options.signal);
  let text = '';
  for (let i = 0; i < tokens.length; i += 8) {
    await sleep((options.tokenMs ?? 4) * 8, options.signal);
    text += tokens.slice(i, i + 8).join('');
  }
  return { model: 'simulated', text: text.trim(), tokens: tokens.length };
}
