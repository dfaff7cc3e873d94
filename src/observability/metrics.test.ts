/**
 * The metrics sink against a real OpenTelemetry SDK meter (collected on demand by a test reader)
 * and a real engine with simulated and scripted models. Nothing here depends on wall-clock time:
 * durations are asserted by count and sign, never by size.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import {
  AggregationTemporality, DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData,
} from '@opentelemetry/sdk-metrics';
import { createEngine, createModels, createSimProvider, PolicyError, ProviderError, topology, type Engine, type Provider, type ProviderEvent } from '../index.ts';
import { isValidationError } from '../errors.ts';
import { simTokens } from '../providers/sim.ts';
import { flush } from '../../test/support/helpers.ts';
import { createMetrics } from './metrics.ts';
import { CALL_SECONDS_BUCKETS, OTHER_VALUE, TOKEN_BUCKETS } from './metric-names.ts';
import { createTelemetry } from './telemetry.ts';

/** A reader the test collects from when it wants (no timers). */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

interface Harness { readonly reader: TestReader; readonly provider: MeterProvider; metric(name: string): Promise<MetricData | undefined> }

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function harness(): Harness {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  return {
    reader, provider,
    async metric(name) {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
    },
  };
}

/** Points of a metric whose attributes include `match`. */
function points<T>(m: MetricData | undefined, match: Record<string, unknown> = {}): DataPoint<T>[] {
  const all = (m?.dataPoints ?? []) as DataPoint<T>[];
  return all.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}

const sum = (ps: readonly DataPoint<number>[]): number => ps.reduce((s, p) => s + p.value, 0);

/** Feeds an engine's events to a metrics sink until the test ends. */
function attach(engine: Engine, h: Harness, extra: { maxAttributeValues?: number } = {}): void {
  const sink = createMetrics({ meter: h.provider.getMeter('test'), load: () => engine.load(), ...extra });
  const sub: Subscription = engine.events$.subscribe((e) => sink.observe(e));
  cleanups.push(() => {
    sub.unsubscribe();
    sink.close?.();
  });
}

/** A provider `script` that fails each call with `fail(n)` (n from 1) or answers 'ok then'. */
function scripted(fail: (n: number) => ProviderError | undefined): Provider {
  let n = 0;
  return {
    name: 'script',
    stream: (req) => new Observable<ProviderEvent>((s) => {
      const err = fail(++n);
      s.next({ type: 'response', status: 200, rateLimit: {} });
      if (err !== undefined) {
        s.error(err);
        return;
      }
      s.next({ type: 'model', model: `${req.model}-2026` });
      for (const t of simTokens('ok then')) s.next({ type: 'text', text: t });
      s.next({ type: 'finish', reason: 'stop' });
      s.next({ type: 'usage', usage: { inputTokens: 5, outputTokens: 2, cachedTokens: 0, reasoningTokens: 0 } });
      s.complete();
    }),
  };
}

const serverError = (model: string, retriable: boolean): ProviderError =>
  new ProviderError('SERVER_ERROR', 'HTTP 500: boom', retriable, { provider: 'script', model, status: 500 });

const ask = (model: string | readonly string[]) => topology('ask', { input: z.string() })
  .map('prep', { run: ({ input }) => input })
  .llm('answer', { after: ['prep'], model, prompt: ({ deps }) => String(deps.prep), maxTokens: 12 })
  .build({ output: 'answer' });

describe('createMetrics', () => {
  it('records gen_ai.client.token.usage and operation duration as the GenAI conventions define them, token counts equal to the run usage', async () => {
    const h = harness();
    const engine = createEngine({ models: createModels({ providers: [createSimProvider()], prices: { 'sim:fast': { input: 1, output: 2 } } }) });
    attach(engine, h);
    const r1 = await engine.run(ask('sim:fast'), 'why streams?', { tenant: 'acme' });
    const r2 = await engine.run(ask('sim:fast'), 'why rx?', { tenant: 'acme' });
    expect([r1.status, r2.status]).toEqual(['completed', 'completed']);

    const usage = await h.metric('gen_ai.client.token.usage');
    expect(usage?.descriptor.unit).toBe('{token}');
    expect(usage?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'sim', 'gen_ai.request.model': 'fast', 'gen_ai.response.model': 'fast' };
    const input = points<Histogram>(usage, { ...base, 'gen_ai.token.type': 'input' });
    const output = points<Histogram>(usage, { ...base, 'gen_ai.token.type': 'output' });
    expect(input).toHaveLength(1);
    expect(output).toHaveLength(1);
    expect(input[0]!.value.count).toBe(2); // one record per call
    expect(input[0]!.value.sum).toBe(r1.usage.inputTokens + r2.usage.inputTokens);
    expect(output[0]!.value.sum).toBe(r1.usage.outputTokens + r2.usage.outputTokens);
    expect(input[0]!.value.buckets.boundaries).toEqual(TOKEN_BUCKETS);
    expect(Object.keys(input[0]!.attributes).sort()).toEqual([...Object.keys(base), 'gen_ai.token.type'].sort());

    const duration = await h.metric('gen_ai.client.operation.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const d = points<Histogram>(duration, base);
    expect(d).toHaveLength(1);
    expect(d[0]!.value.count).toBe(2);
    expect(d[0]!.value.min).toBeGreaterThanOrEqual(0);
    expect(d[0]!.value.buckets.boundaries).toEqual(CALL_SECONDS_BUCKETS);
    expect(d[0]!.attributes['error.type']).toBeUndefined();
    const ttfc = points<Histogram>(await h.metric('gen_ai.client.operation.time_to_first_chunk'), base);
    expect(ttfc[0]!.value.count).toBe(2);

    // the engine's own: cost and tokens by tenant, run and node durations, runs by status
    const cost = points<number>(await h.metric('llmo.cost.usd'), { 'llmo.tenant': 'acme', 'llmo.model': 'sim:fast', 'llmo.topology': 'ask' });
    expect(r1.usage.costUsd).toBeGreaterThan(0);
    expect(sum(cost)).toBeCloseTo(r1.usage.costUsd + r2.usage.costUsd, 12);
    const tokens = await h.metric('llmo.tokens');
    expect(sum(points<number>(tokens, { 'llmo.tenant': 'acme', 'gen_ai.token.type': 'output' }))).toBe(r1.usage.outputTokens + r2.usage.outputTokens);
    const runs = points<Histogram>(await h.metric('llmo.run.duration'), { 'llmo.topology': 'ask', 'llmo.status': 'completed' });
    expect(runs[0]!.value.count).toBe(2);
    const nodes = await h.metric('llmo.node.duration');
    expect(points<Histogram>(nodes, { 'llmo.node_id': 'answer', 'llmo.status': 'completed' })[0]!.value.count).toBe(2);
    expect(points<Histogram>(nodes, { 'llmo.node_id': 'prep', 'llmo.status': 'completed' })[0]!.value.count).toBe(2);
    expect(sum(points<number>(await h.metric('llmo.runs.started'), { 'llmo.topology': 'ask' }))).toBe(2);
    expect(sum(points<number>(await h.metric('llmo.runs.ended'), { 'llmo.topology': 'ask', 'llmo.status': 'completed' }))).toBe(2);
    // never a run id in any attribute
    const { resourceMetrics } = await h.reader.collect();
    const attrValues = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints.flatMap((p) => Object.values(p.attributes))));
    expect(attrValues).not.toContain(r1.runId);
  });

  it('a failed call carries error.type on its duration; the failed run is counted with its status and error', async () => {
    const h = harness();
    const engine = createEngine({
      models: createModels({ providers: [scripted((n) => (n === 1 ? serverError('x', false) : undefined))] }),
      resilience: { retry: { maxAttempts: 1 } },
    });
    attach(engine, h);
    const failed = await engine.run(ask('script:x'), 'q');
    const ok = await engine.run(ask('script:x'), 'q');
    expect([failed.status, ok.status]).toEqual(['failed', 'completed']);

    const duration = await h.metric('gen_ai.client.operation.duration');
    const bad = points<Histogram>(duration, { 'gen_ai.provider.name': 'script', 'error.type': 'SERVER_ERROR' });
    expect(bad).toHaveLength(1);
    expect(bad[0]!.value.count).toBe(1);
    expect(bad[0]!.attributes['gen_ai.response.model']).toBeUndefined();
    const good = points<Histogram>(duration, { 'gen_ai.response.model': 'x-2026' });
    expect(good).toHaveLength(1);
    expect(good[0]!.attributes['error.type']).toBeUndefined();
    const usage = await h.metric('gen_ai.client.token.usage');
    expect(points<Histogram>(usage, { 'gen_ai.token.type': 'input' })[0]!.value.sum).toBe(5); // the failed call billed nothing

    const ended = await h.metric('llmo.runs.ended');
    const failedRuns = points<number>(ended, { 'llmo.status': 'failed' });
    expect(sum(failedRuns)).toBe(1);
    expect(failedRuns[0]!.attributes['error.type']).toBe(failed.status === 'failed' ? failed.error.code : undefined);
    expect(points<Histogram>(await h.metric('llmo.node.duration'), { 'llmo.node_id': 'answer', 'llmo.status': 'failed' })[0]!.value.count).toBe(1);
  });

  it('counts retries by model and fallbacks by from/to, and reports the breaker state as a gauge (2: open)', async () => {
    const h = harness();
    const engine = createEngine({
      models: createModels({ providers: [scripted((n) => (n <= 2 ? serverError('x', true) : undefined)), createSimProvider()] }),
      resilience: { retry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 0 }, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 3_600_000 } },
    });
    attach(engine, h);
    const r = await engine.run(ask(['script:x', 'sim:fast']), 'q');
    expect(r.status).toBe('completed');

    expect(sum(points<number>(await h.metric('llmo.retries'), { 'llmo.topology': 'ask', 'llmo.model': 'script:x' }))).toBe(1);
    const fb = points<number>(await h.metric('llmo.fallbacks'), { 'llmo.fallback.from': 'script:x', 'llmo.fallback.to': 'sim:fast' });
    expect(sum(fb)).toBe(1);
    const breaker = await h.metric('llmo.breaker.state');
    expect(breaker?.dataPointType).toBe(DataPointType.GAUGE);
    expect(points<number>(breaker, { 'llmo.model': 'script:x' }).map((p) => p.value)).toEqual([2]);
    // two failed calls, one per attempt, then the fallback's good one
    const duration = await h.metric('gen_ai.client.operation.duration');
    expect(points<Histogram>(duration, { 'error.type': 'SERVER_ERROR' })[0]!.value.count).toBe(2);
    expect(points<Histogram>(duration, { 'gen_ai.provider.name': 'sim' })[0]!.value.count).toBe(1);
  });

  it('gauges runs in flight and queued for admission from the engine load', async () => {
    const h = harness();
    const engine = createEngine();
    attach(engine, h);
    const gates: (() => void)[] = [];
    const t = topology('gated', { input: z.number(), maxInFlight: 2 })
      .map('wait', { run: () => new Promise<number>((resolve) => gates.push(() => resolve(1))) })
      .build();
    const starts: { queuedMs?: number | undefined }[] = [];
    engine.events$.subscribe((e) => { if (e.type === 'run.started') starts.push({ queuedMs: e.queuedMs }); });
    const runs = [1, 2, 3, 4, 5].map((i) => engine.run(t, i));
    await flush();
    expect(engine.load()).toEqual({ running: 2, queued: 3 });
    expect((await h.metric('llmo.runs.in_flight'))?.dataPoints.map((p) => p.value)).toEqual([2]);
    expect((await h.metric('llmo.runs.queued'))?.dataPoints.map((p) => p.value)).toEqual([3]);
    while (gates.length > 0) {
      for (const g of gates.splice(0)) g();
      await flush();
    }
    await Promise.all(runs);
    expect((await h.metric('llmo.runs.in_flight'))?.dataPoints.map((p) => p.value)).toEqual([0]);
    expect((await h.metric('llmo.runs.queued'))?.dataPoints.map((p) => p.value)).toEqual([0]);
    // the two admitted at once say nothing; the three that waited say how long
    expect(starts.filter((s) => s.queuedMs === undefined)).toHaveLength(2);
    expect(starts.filter((s) => typeof s.queuedMs === 'number' && s.queuedMs >= 0)).toHaveLength(3);
    const waits = points<Histogram>(await h.metric('llmo.run.admission_wait'), { 'llmo.topology': 'gated' });
    expect(waits[0]!.value.count).toBe(5);
  });

  it('caps the distinct values of an attribute: later ones read _OTHER', async () => {
    const h = harness();
    const engine = createEngine({ models: createModels({ providers: [createSimProvider()] }) });
    attach(engine, h, { maxAttributeValues: 2 });
    for (const tenant of ['a', 'b', 'c', 'd']) await engine.run(ask('sim:fast'), 'q', { tenant });
    const tenants = points<number>(await h.metric('llmo.tokens'), { 'gen_ai.token.type': 'input' }).map((p) => p.attributes['llmo.tenant']);
    expect(tenants.sort()).toEqual([OTHER_VALUE, 'a', 'b'].sort());
  });

  it('counts guard decisions by stage, action, rule and tenant (a plain allow is not counted)', async () => {
    const h = harness();
    const engine = createEngine({
      models: createModels({ providers: [createSimProvider()] }),
      guard: {
        run: (c) => (c.tenant === 'blocked' ? { action: 'deny', rule: 'no-blocked', error: new PolicyError('POLICY_DENIED', 'no', { rule: 'no-blocked' }) } : { action: 'allow' }),
        call: (c) => ({ action: 'allow', rule: 'cap', request: { ...c.request, maxTokens: 4 } }),
      },
    });
    attach(engine, h);
    await engine.run(ask('sim:fast'), 'q', { tenant: 'acme' });
    await engine.run(ask('sim:fast'), 'q', { tenant: 'blocked' });
    const m = await h.metric('llmo.policy.decisions');
    expect(sum(points<number>(m, { 'llmo.policy.stage': 'run', 'llmo.policy.action': 'deny', 'llmo.policy.rule': 'no-blocked', 'llmo.tenant': 'blocked' }))).toBe(1);
    expect(sum(points<number>(m, { 'llmo.policy.stage': 'call', 'llmo.policy.action': 'allow', 'llmo.policy.rule': 'cap', 'llmo.tenant': 'acme' }))).toBe(1);
    expect(sum(points<number>(m))).toBe(2);
  });

  it('telemetry attaches metrics with the engine load; ending the subscription stops reading it', async () => {
    const h = harness();
    const engine = createEngine();
    let reads = 0;
    const source = { events$: engine.events$, load: () => { reads++; return engine.load(); } };
    const sub = createTelemetry({ meter: h.provider.getMeter('t'), traces: false }).attach(source);
    await engine.run(topology('one').map('a', { run: () => 1 }).build(), {});
    expect((await h.metric('llmo.runs.in_flight'))?.dataPoints.map((p) => p.value)).toEqual([0]);
    expect(sum(points<number>(await h.metric('llmo.runs.ended'), { 'llmo.topology': 'one' }))).toBe(1);
    expect(reads).toBe(2);
    sub.unsubscribe();
    await h.reader.collect();
    expect(reads).toBe(2);
  });

  it('rejects bad options naming the field', () => {
    expect(() => createMetrics({ meter: {} as never })).toThrow(/options\.meter/);
    try {
      createMetrics({ meter: harness().provider.getMeter('x'), maxAttributeValues: 0 });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]!.path).toEqual(['options', 'maxAttributeValues']);
    }
  });
});
