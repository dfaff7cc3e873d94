/**
 * SLO alerts under virtual time: an injected clock and manual evaluation for the rule logic, and
 * fake timers with a real engine for the tick. No wall-clock waits.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createEngine, createModels, createSimProvider, topology } from '../index.ts';
import { isValidationError } from '../errors.ts';
import type { EngineEvent, ModelCallEvent } from '../runtime/events.ts';
import { createAlerts, type AlertEvent, type Alerts, type SloRule } from './alerts.ts';
import { formatAlert } from './alerts-format.ts';
import { parseSloRules } from './slo-rules.ts';
import { createTelemetry } from './telemetry.ts';

const opened: Alerts[] = [];
afterEach(() => {
  for (const a of opened.splice(0)) a.close();
  vi.useRealTimers();
});

/** Alerts on a virtual clock: `at(ms)` moves it; every alert is recorded. */
function virtual(rules: readonly SloRule[]): { alerts: Alerts; seen: AlertEvent[]; at(ms: number): void; now(): number } {
  let t = 0;
  const alerts = createAlerts({ rules, now: () => t, tickMs: 1_000 });
  opened.push(alerts);
  const seen: AlertEvent[] = [];
  alerts.alerts$.subscribe((a) => seen.push(a));
  return { alerts, seen, at: (ms) => { t = ms; }, now: () => t };
}

let n = 0;
const err = { name: 'NodeError', code: 'BOOM', message: 'boom', retriable: false };
function run(type: 'completed' | 'failed' | 'cancelled', ts: number, opts: { topology?: string; start?: number; runId?: string } = {}): EngineEvent[] {
  const runId = opts.runId ?? `r${++n}`;
  const topo = opts.topology ?? 'rag';
  const started: EngineEvent = { type: 'run.started', runId, topology: topo, seq: 0, ts: opts.start ?? ts, priority: 'normal' };
  const base = { runId, topology: topo, seq: 1, ts };
  const end: EngineEvent = type === 'completed' ? { ...base, type: 'run.completed', output: 1 }
    : type === 'failed' ? { ...base, type: 'run.failed', error: err } : { ...base, type: 'run.cancelled', error: { ...err, code: 'CANCELLED' } };
  return [started, end];
}
function call(ts: number, o: { model?: string; tenant?: string; topology?: string; costUsd?: number; ms?: number; error?: string } = {}): ModelCallEvent {
  const model = o.model ?? 'openai:gpt-4o';
  return {
    type: 'model.call', runId: `c${++n}`, topology: o.topology ?? 'rag', nodeId: 'answer', startTs: ts - (o.ms ?? 100), ts, provider: 'openai', model,
    request: { model: model.split(':')[1]!, messages: [] }, attempt: 1, costUsd: o.costUsd ?? 0, text: '',
    ...(o.tenant === undefined ? {} : { tenant: o.tenant }), ...(o.error === undefined ? {} : { error: { ...err, code: o.error } }),
  };
}
const feed = (a: Alerts, events: readonly EngineEvent[]): void => {
  for (const e of events) a.observe(e);
};
const states = (seen: readonly AlertEvent[]): string[] => seen.map((a) => `${a.rule}:${a.state}@${a.ts}`);

describe('createAlerts', () => {
  it('failure rate fires once past the threshold with enough samples, never repeats while firing, resolves as failures leave the window', () => {
    const v = virtual([{ name: 'failures', kind: 'failure-rate', threshold: 0.25, windowMs: 60_000, minSamples: 4 }]);
    v.at(1_000);
    feed(v.alerts, [...run('failed', 1_000), ...run('failed', 1_000), ...run('completed', 1_000)]);
    expect(v.seen).toEqual([]); // 3 samples < minSamples 4, though 67 % failed
    v.at(2_000);
    feed(v.alerts, run('completed', 2_000)); // 2/4 = 50 %
    expect(states(v.seen)).toEqual(['failures:firing@2000']);
    expect(v.seen[0]).toMatchObject({ type: 'alert', kind: 'failure-rate', value: 0.5, threshold: 0.25, samples: 4, since: 2_000, windowMs: 60_000, scope: 'run' });
    v.at(3_000);
    feed(v.alerts, [...run('failed', 3_000), ...run('completed', 3_000)]); // 3/6, still firing: nothing new
    v.alerts.evaluate();
    expect(v.seen).toHaveLength(1);
    v.at(61_500); // the failures of t=1000 left the window: 1 failed of 3
    v.alerts.evaluate();
    expect(states(v.seen)).toEqual(['failures:firing@2000', 'failures:resolved@61500']);
    expect(v.seen[1]).toMatchObject({ since: 2_000, samples: 3 });
    expect(v.seen[1]!.value).toBeCloseTo(1 / 3, 10);
  });

  it('cancelled runs and child runs do not count; the topology filter keeps other topologies out', () => {
    const v = virtual([{ name: 'rag', kind: 'failure-rate', threshold: 0.4, windowMs: 10_000, minSamples: 2, topology: 'rag' }]);
    v.at(100);
    feed(v.alerts, [...run('failed', 100, { topology: 'other' }), ...run('failed', 100, { topology: 'other' }), ...run('cancelled', 100), ...run('cancelled', 100)]);
    v.alerts.observe({ type: 'run.failed', runId: 'child', parentRunId: 'p', topology: 'rag', seq: 3, ts: 100, error: err });
    v.alerts.evaluate();
    expect(v.seen).toEqual([]);
    feed(v.alerts, [...run('failed', 100), ...run('completed', 100)]);
    expect(states(v.seen)).toEqual(['rag:firing@100']);
    expect(v.seen[0]).toMatchObject({ samples: 2, topology: 'rag' });
  });

  it('`forMs`: fires only once the condition held that long (seen on the tick), and not if it stops holding first', () => {
    const v = virtual([{ name: 'f', kind: 'failure-rate', threshold: 0.5, windowMs: 100_000, minSamples: 1, forMs: 30_000 }]);
    v.at(0);
    feed(v.alerts, run('failed', 0));
    v.at(20_000);
    feed(v.alerts, [...run('completed', 20_000), ...run('completed', 20_000)]); // 1/3: condition broken before 30 s
    v.at(40_000);
    feed(v.alerts, [...run('failed', 40_000), ...run('failed', 40_000)]); // 3/5: holds again from 40 s
    v.at(69_999);
    v.alerts.evaluate();
    expect(v.seen).toEqual([]);
    v.at(70_000);
    v.alerts.evaluate();
    expect(states(v.seen)).toEqual(['f:firing@70000']);
    expect(v.seen[0]!.since).toBe(40_000);
  });

  it('p99 run latency from run start to end: fires above the threshold, resolves when the window goes quiet', () => {
    const v = virtual([{ name: 'slow', kind: 'p99-latency', threshold: 2_000, windowMs: 60_000, minSamples: 3 }]);
    v.at(10_000);
    feed(v.alerts, [...run('completed', 10_000, { start: 9_000 }), ...run('failed', 10_000, { start: 9_500 })]);
    feed(v.alerts, run('cancelled', 10_000, { start: 0 })); // cancelled: no sample
    expect(v.seen).toEqual([]);
    feed(v.alerts, run('completed', 10_000, { start: 5_000 })); // durations 1000, 500, 5000: p99 = 5000
    expect(states(v.seen)).toEqual(['slow:firing@10000']);
    expect(v.seen[0]!.value).toBe(5_000);
    v.at(70_000);
    v.alerts.evaluate(); // empty window
    expect(states(v.seen)).toEqual(['slow:firing@10000', 'slow:resolved@70000']);
    expect(formatAlert(v.seen[1]!)).toBe('RESOLVED slow: p99 run latency 0ms <= 2000ms over 1m (0 samples) at 1970-01-01T00:01:10.000Z');
    expect(formatAlert({ ...v.seen[1]!, value: 3_000, samples: 1 })).toContain('(1 samples, too few samples)');
  });

  it('p99 model-call latency with a model filter; cancelled calls left out; failure rate over model calls by tenant', () => {
    const v = virtual([
      { name: 'gpt-slow', kind: 'p99-latency', scope: 'model-call', model: 'openai:gpt-4o', threshold: 1_000, windowMs: 30_000, minSamples: 2 },
      { name: 'acme-errors', kind: 'failure-rate', scope: 'model-call', tenant: 'acme', threshold: 0.3, windowMs: 30_000, minSamples: 2 },
    ]);
    v.at(1_000);
    feed(v.alerts, [call(1_000, { ms: 5_000, model: 'openai:gpt-4o-mini' }), call(1_000, { ms: 5_000, error: 'CANCELLED' }), call(1_000, { ms: 200 })]);
    feed(v.alerts, [call(1_000, { error: 'SERVER_ERROR', tenant: 'other' }), call(1_000, { error: 'SERVER_ERROR', tenant: 'other' })]);
    expect(v.seen).toEqual([]);
    feed(v.alerts, [call(1_000, { ms: 3_000, tenant: 'acme', error: 'TIMEOUT' })]);
    expect(states(v.seen)).toEqual(['gpt-slow:firing@1000']);
    feed(v.alerts, [call(1_000, { tenant: 'acme' })]); // acme: 1 of 2 failed
    expect(states(v.seen)).toEqual(['gpt-slow:firing@1000', 'acme-errors:firing@1000']);
    expect(v.seen[1]).toMatchObject({ value: 0.5, tenant: 'acme', scope: 'model-call' });
  });

  it('cost rate in USD per minute over the window, filtered by tenant', () => {
    const v = virtual([{ name: 'spend', kind: 'cost-rate', tenant: 'acme', threshold: 0.5, windowMs: 120_000 }]);
    v.at(0);
    feed(v.alerts, [call(0, { tenant: 'acme', costUsd: 0.6 }), call(0, { tenant: 'other', costUsd: 5 })]); // 0.6 / 2 min = 0.3
    expect(v.seen).toEqual([]);
    v.at(30_000);
    feed(v.alerts, [call(30_000, { tenant: 'acme', costUsd: 0.6 })]); // 1.2 / 2 min = 0.6 > 0.5
    expect(states(v.seen)).toEqual(['spend:firing@30000']);
    expect(v.seen[0]!.value).toBeCloseTo(0.6, 10);
    expect(formatAlert(v.seen[0]!)).toBe('FIRING spend: cost-rate $0.6000/min > $0.5000/min over 2m (tenant=acme, 2 samples) since 1970-01-01T00:00:30.000Z');
    v.at(120_000); // the first call left: 0.3
    v.alerts.evaluate();
    expect(states(v.seen)).toEqual(['spend:firing@30000', 'spend:resolved@120000']);
  });

  it('the periodic tick resolves a quiet window under fake timers, with a real engine; close() stops it', async () => {
    vi.useFakeTimers({ now: 0 });
    const engine = createEngine({ models: createModels({ providers: [createSimProvider()], prices: { 'sim:fast': { input: 1_000, output: 1_000 } } }) });
    const telemetry = createTelemetry({
      traces: false, metrics: false, alertTickMs: 1_000,
      alerts: [{ name: 'spend', kind: 'cost-rate', threshold: 0.000001, windowMs: 10_000 }],
    });
    const seen: AlertEvent[] = [];
    telemetry.alerts$.subscribe((a) => seen.push(a));
    const sub = telemetry.attach(engine);
    const t = topology('paid', { input: z.string() }).llm('a', { model: 'sim:fast', prompt: ({ input }) => input, maxTokens: 4 }).build();
    const r = await engine.run(t, 'hi');
    expect(r.status).toBe('completed');
    expect(seen.map((a) => a.state)).toEqual(['firing']);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000); // the call left the window; the tick sees it
    expect(seen.map((a) => a.state)).toEqual(['firing', 'resolved']);
    sub.unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects malformed rules naming the field', () => {
    const paths = (f: () => unknown): string[] => {
      try {
        f();
      } catch (e) {
        if (isValidationError(e)) return e.issues.map((i) => i.path.join('.'));
        throw e;
      }
      return [];
    };
    const ok = { name: 'a', kind: 'failure-rate', threshold: 0.1, windowMs: 1_000 } as const;
    expect(paths(() => createAlerts({ rules: [ok, { ...ok, name: 'b', threshold: 2 }] }))).toEqual(['rules.1.threshold']);
    expect(paths(() => createAlerts({ rules: [ok, { ...ok, name: 'b', windowMs: -1 } as SloRule] }))).toEqual(['rules.1.windowMs']);
    expect(paths(() => createAlerts({ rules: [{ ...ok, kind: 'p95' } as unknown as SloRule] }))).toEqual(['rules.0.kind']);
    expect(paths(() => createAlerts({ rules: [{ ...ok, tenant: 'acme' }] }))).toEqual(['rules.0.tenant']);
    expect(paths(() => createAlerts({ rules: [{ ...ok, minSamples: 0 }] }))).toEqual(['rules.0.minSamples']);
    expect(paths(() => createAlerts({ rules: [{ ...ok, extra: 1 } as SloRule] }))).toEqual(['rules.0']);
    expect(paths(() => createTelemetry({ alerts: [{ ...ok, threshold: -1 }] }))).toEqual(['options.alerts.0.threshold']);
  });
});

describe('parseSloRules', () => {
  it('reads a YAML or JSON document: a list, or { rules }', () => {
    const yaml = `
rules:
  - name: failures
    kind: failure-rate
    threshold: 0.05
    windowMs: 300000
    topology: rag
  - { name: spend, kind: cost-rate, threshold: 1.5, windowMs: 60000, tenant: acme }
`;
    expect(parseSloRules(yaml).map((r) => r.name)).toEqual(['failures', 'spend']);
    expect(parseSloRules(JSON.stringify([{ name: 'slow', kind: 'p99-latency', scope: 'model-call', threshold: 800, windowMs: 60000 }]))[0]).toMatchObject({ scope: 'model-call' });
  });

  it('errors carry the path of each bad field, and the line of a syntax error', () => {
    const issues = (text: string): { code: string; paths: string[]; messages: string[] } => {
      try {
        parseSloRules(text);
      } catch (e) {
        if (isValidationError(e)) return { code: e.code, paths: e.issues.map((i) => i.path.join('.')), messages: e.issues.map((i) => i.message) };
        throw e;
      }
      return { code: '', paths: [], messages: [] };
    };
    expect(issues('rules:\n  - { name: a, kind: cost-rate, threshold: 1, windowMs: 0 }\n  - { name: a, kind: cost-rate, threshold: x, windowMs: 5 }\n').paths)
      .toEqual(['rules.0.windowMs', 'rules.1.threshold']);
    expect(issues('- { name: a, kind: failure-rate, threshold: 0.1, windowMs: 5 }\n- { name: a, kind: failure-rate, threshold: 0.1, windowMs: 5 }').paths).toEqual(['1.name']);
    expect(issues('rule: []').paths).toEqual(['rules', '']);
    const syntax = issues('rules: [ { name: a\n');
    expect(syntax.code).toBe('SLO_RULES_UNREADABLE');
    expect(syntax.messages[0]).toMatch(/^\d+:\d+: /);
  });
});
