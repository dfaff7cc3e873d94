/**
 * `llm-orchestrator/testing`: helpers for testing your own topologies without a
 * model or a clock: record a run's events, and script a provider's answers and
 * failures call by call (the same `ProviderEvent`s a real provider streams).
 *
 * @example
 * ```ts
 * import { recordEvents, scriptedProvider } from 'llm-orchestrator/testing';
 * const provider = scriptedProvider('fake', [{ text: 'hello' }, { error: new Error('boom') }]);
 * const engine = createEngine({ models: createModels({ providers: [provider] }) });
 * const rec = recordEvents(engine);
 * ```
 * @module
 */
import { Observable } from 'rxjs';
import type { Engine } from '../runtime/engine.ts';
import type { EngineEvent, RunEvent } from '../runtime/events.ts';
import type { CompletionRequest, FinishReason, Provider, ProviderEvent, Usage } from '../providers/types.ts';

/**
 * Records an engine's lifecycle events (those with a `seq`) until `stop`.
 *
 * @example
 * ```ts
 * const rec = recordEvents(engine);
 * await engine.run(t, input);
 * rec.stop();
 * expect(rec.events.map((e) => e.type)).toContain('run.completed');
 * ```
 */
export function recordEvents(engine: Pick<Engine, 'events$'>): {
  /** The events recorded so far, in bus order. */
  readonly events: RunEvent[];
  /** Stops recording. */
  stop(): void;
} {
  const events: RunEvent[] = [];
  const sub = engine.events$.subscribe((e: EngineEvent) => {
    if ('seq' in e) events.push(e);
  });
  return { events, stop: () => sub.unsubscribe() };
}

/** One scripted answer: text (streamed one word at a time), raw events, or a failure. */
export type ScriptedCall =
  | { readonly text: string; readonly usage?: Usage; readonly finishReason?: FinishReason }
  | { readonly events: readonly ProviderEvent[] }
  | { readonly error: unknown };

/**
 * A provider that answers call `n` with `script[n]` (the last entry repeats), or with what a
 * function of the request answers, records every request in `requests`, and emits synchronously,
 * so tests need no timers.
 *
 * @example
 * ```ts
 * const echo = scriptedProvider('echo', (req) => ({ text: `echo: ${req.messages.at(-1)?.content ?? ''}` }));
 * const p = scriptedProvider('fake', [{ error: new ProviderError('UNAVAILABLE', 'down', true, { provider: 'fake', model: 'm' }) }, { text: 'ok' }]);
 * ```
 */
export function scriptedProvider(
  name: string, script: readonly ScriptedCall[] | ((request: CompletionRequest, n: number) => ScriptedCall),
): Provider & { readonly requests: CompletionRequest[] } {
  if (typeof script !== 'function' && script.length === 0) throw new TypeError('scriptedProvider needs at least one scripted call');
  const requests: CompletionRequest[] = [];
  return {
    name,
    requests,
    stream(request: CompletionRequest): Observable<ProviderEvent> {
      const call = typeof script === 'function' ? script(request, requests.length) : script[Math.min(requests.length, script.length - 1)]!;
      requests.push(request);
      return new Observable<ProviderEvent>((subscriber) => {
        if ('error' in call) {
          subscriber.error(call.error);
          return;
        }
        const events: readonly ProviderEvent[] = 'events' in call ? call.events : textEvents(call.text, call.usage, call.finishReason);
        for (const e of events) {
          if (subscriber.closed) return;
          subscriber.next(e);
        }
        subscriber.complete();
      });
    },
  };
}

function textEvents(text: string, usage: Usage | undefined, finish: FinishReason | undefined): ProviderEvent[] {
  const out: ProviderEvent[] = [{ type: 'response', status: 200, rateLimit: {} }];
  for (const piece of text.match(/\S+\s*|\s+/g) ?? []) out.push({ type: 'text', text: piece });
  if (usage !== undefined) out.push({ type: 'usage', usage });
  out.push({ type: 'finish', reason: finish ?? 'stop' });
  return out;
}
