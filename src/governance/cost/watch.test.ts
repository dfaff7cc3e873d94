// watchCost in virtual time (rxjs TestScheduler): steady spend raises nothing, a 5x burst raises
// exactly one anomaly naming the key, cooldown holds a second burst back, totals per dims each
// window, the overflow key, completion, and options refused naming the field. Plus a real engine.
import { Observable, Subject, VirtualAction, VirtualTimeScheduler, map, merge, takeUntil, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createEngine, createModels, topology, type EngineEvent, type ModelCallEvent, type Provider, type ProviderEvent } from '../../index.ts';
import type { CostAnomalyEvent, CostEvent, CostTotalsEvent } from './events.ts';
import { watchCost, type WatchCostOptions } from './watch.ts';

const MIN = 60_000;

const call = (tenant: string | undefined, costUsd: number, extra: Partial<ModelCallEvent> = {}): ModelCallEvent => ({
  type: 'model.call', runId: 'r', topology: 't', nodeId: 'answer', startTs: 0, ts: 0, provider: 'a', model: 'a:big',
  request: { model: 'big', messages: [] }, attempt: 1, costUsd, text: '',
  usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0, estimated: false },
  ...(tenant === undefined ? {} : { tenant }), ...extra,
});

/** One call every `everyMs` from `fromMs` to `toMs` (virtual time), costing `costUsd` each. */
function spend(s: TestScheduler, tenant: string, everyMs: number, costUsd: number, fromMs = 0, toMs = Infinity): Observable<EngineEvent> {
  return timer(fromMs, everyMs, s).pipe(
    takeUntil(timer(toMs, s)),
    map(() => call(tenant, costUsd)),
  );
}

/** Runs the watch for `forMs` of virtual time over `events` (built on the scheduler); what it emitted. */
function watched(forMs: number, events: (s: TestScheduler) => Observable<EngineEvent>, options: WatchCostOptions = {}): CostEvent[] {
  const s = new TestScheduler((a, b) => expect(a).toEqual(b));
  const out: CostEvent[] = [];
  s.run(() => {
    watchCost(events(s), { windowMs: MIN, trailingWindows: 5, k: 3, minSpendUsd: 0.01, ...options, scheduler: s })
      .pipe(takeUntil(timer(forMs + 1, s)))
      .subscribe((e) => out.push(e));
  });
  return out;
}

const anomalies = (out: CostEvent[]): CostAnomalyEvent[] => out.filter((e): e is CostAnomalyEvent => e.type === 'cost.anomaly');
const totals = (out: CostEvent[]): CostTotalsEvent[] => out.filter((e): e is CostTotalsEvent => e.type === 'cost.totals');

describe('watchCost', () => {
  it('steady spend raises nothing; totals each window per key', () => {
    const out = watched(30 * MIN, (s) => merge(spend(s, 'acme', 1_000, 0.001), spend(s, 'globex', 10_000, 0.01)));
    expect(anomalies(out)).toEqual([]);
    const t = totals(out);
    expect(t).toHaveLength(30);
    expect(t.map((e) => e.ts)).toEqual(Array.from({ length: 30 }, (_, j) => (j + 1) * MIN));
    const last = t.at(-1)!;
    expect(last.dims).toEqual(['tenant']);
    // acme: 60 calls a minute at $0.001, globex: 6 at $0.01, from 0 (a call due as a window ends goes to the next window)
    const acme = last.rows.find((r) => r.by.tenant === 'acme')!;
    expect(acme.calls).toBe(30 * 60);
    expect(acme.windowCostUsd).toBeCloseTo(0.06, 10);
    expect(acme.costUsd).toBeCloseTo(30 * 60 * 0.001, 10);
    expect(last.rows.find((r) => r.by.tenant === 'globex')!.inputTokens).toBe(30 * 6 * 10);
  });

  it('a 5x burst of one tenant raises exactly one anomaly naming it; the other tenant none', () => {
    // acme spends $0.06/min, then 5x for two minutes (minutes 20 and 21); globex stays steady
    const out = watched(30 * MIN, (s) => merge(
      spend(s, 'acme', 1_000, 0.001),
      spend(s, 'acme', 250, 0.001, 20 * MIN + 1, 22 * MIN - 1),
      spend(s, 'globex', 1_000, 0.001),
    ), { cooldownMs: 5 * MIN });
    const a = anomalies(out);
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ type: 'cost.anomaly', ts: 21 * MIN, by: { tenant: 'acme' }, k: 3, windowMs: MIN, trailingWindows: 5 });
    expect(a[0]!.spendUsd).toBeCloseTo(0.3, 6);
    expect(a[0]!.trailingMeanUsd).toBeCloseTo(0.06, 6);
    expect(a[0]!.ratio).toBeCloseTo(5, 3);
  });

  it('cooldown: a second burst within cooldownMs is held back, one after it alerts again', () => {
    // bursts in minutes 10, 17 and 30; the trailing 5 windows before 17 no longer hold the first
    const burst = (s: TestScheduler, at: number): Observable<EngineEvent> => spend(s, 'acme', 250, 0.001, at * MIN + 1, (at + 1) * MIN - 1);
    const run = (cooldownMs: number): number[] => anomalies(watched(60 * MIN, (s) => merge(
      spend(s, 'acme', 1_000, 0.001), burst(s, 10), burst(s, 17), burst(s, 30),
    ), { cooldownMs })).map((e) => e.ts / MIN);
    expect(run(10 * MIN)).toEqual([11, 31]);
    expect(run(0)).toEqual([11, 18, 31]);
  });

  it('keys by several dims; a new key gets history before it may alert; minSpendUsd keeps small bursts quiet', () => {
    const out = watched(12 * MIN, (s) => merge(
      spend(s, 'acme', 1_000, 0.001),
      // a user first seen at minute 5 spending a lot at once: no history yet, no alert
      spend(s, 'acme', 100, 0.01, 5 * MIN, 6 * MIN).pipe(map((e) => ({ ...(e as ModelCallEvent), user: 'u9' }))),
    ), { dims: ['tenant', 'user'], minSpendUsd: 1 });
    expect(anomalies(out)).toEqual([]);
    expect(totals(out).at(-1)!.rows.map((r) => r.by)).toEqual([{ tenant: 'acme', user: 'u9' }, { tenant: 'acme', user: null }]);
  });

  it('past maxKeys, calls of new keys are totalled under (overflow)', () => {
    const out = watched(MIN, () => new Observable<EngineEvent>((o) => { for (const t of ['a', 'b', 'c', 'd']) o.next(call(t, 1)); }), { maxKeys: 2 });
    expect(totals(out)[0]!.rows.map((r) => [r.by.tenant, r.calls])).toEqual([['(overflow)', 2], ['a', 1], ['b', 1]]);
  });

  it('completes and errors with its source; refuses invalid options naming the field', () => {
    const events = new Subject<EngineEvent>();
    let done = false;
    watchCost(events).subscribe({ complete: () => { done = true; } });
    events.complete();
    expect(done).toBe(true);
    const failing = new Subject<EngineEvent>();
    let failed: unknown;
    watchCost(failing).subscribe({ error: (e: unknown) => { failed = e; } });
    failing.error(new Error('bus gone'));
    expect(failed).toMatchObject({ message: 'bus gone' });
    const issue = (o: unknown): unknown => {
      try {
        watchCost(new Subject<EngineEvent>(), o as WatchCostOptions);
      } catch (e) {
        return (e as { code: string; issues: { path: unknown }[] });
      }
      return undefined;
    };
    expect(issue({ k: 1 })).toMatchObject({ code: 'OPTIONS_INVALID', issues: [{ path: ['options', 'k'] }] });
    expect(issue({ dims: ['tenant', 'colour'] })).toMatchObject({ code: 'OPTIONS_INVALID', issues: [{ path: ['options', 'dims', 1] }] });
    expect(issue({ windowMs: 0 })).toMatchObject({ issues: [{ path: ['options', 'windowMs'] }] });
    expect(issue({ scheduler: {} })).toMatchObject({ issues: [{ path: ['options', 'scheduler'] }] });
    expect(issue({ cooldown: 5 })).toMatchObject({ code: 'OPTIONS_INVALID' });
  });

  it('on a real engine: totals by tenant and model from its model.call events', async () => {
    const provider: Provider = {
      name: 'a',
      stream: () => new Observable<ProviderEvent>((s) => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        s.next({ type: 'text', text: 'ok' });
        s.next({ type: 'usage', usage: { inputTokens: 1000, outputTokens: 1000, cachedTokens: 0, reasoningTokens: 0 } });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider], prices: { 'a:big': { input: 1, output: 1 } } }) });
    const t = topology('one').llm('answer', { model: 'a:big', prompt: () => 'hi' }).build({ output: 'answer' });
    // virtual time up to the end of the first window (the tick re-arms past it and stays pending)
    const s = new VirtualTimeScheduler(VirtualAction, MIN);
    const out: CostEvent[] = [];
    const sub = watchCost(engine.events$, { dims: ['tenant', 'model'], windowMs: MIN, scheduler: s }).subscribe((e) => out.push(e));
    await engine.run(t, {}, { tenant: 'acme' });
    await engine.run(t, {}, { tenant: 'acme' });
    expect(out).toEqual([]);
    s.flush();
    sub.unsubscribe();
    expect(totals(out)[0]!.rows).toEqual([{ by: { tenant: 'acme', model: 'a:big' }, costUsd: engine.usage('acme').costUsd, calls: 2, inputTokens: 2000, outputTokens: 2000, windowCostUsd: engine.usage('acme').costUsd }]);
  });
});
