import { describe, expect, it } from 'vitest';
import type { Tracer } from '@opentelemetry/api';
import { createEngine, topology } from '../index.ts';
import { createTelemetry, type TelemetryError } from './telemetry.ts';

describe('createTelemetry', () => {
  it('a part that throws is caught per event and reported on errors$; the run and the other parts go on', async () => {
    const broken = { startSpan: () => { throw new Error('exporter bug'); }, startActiveSpan: () => { throw new Error('exporter bug'); } } as unknown as Tracer;
    const telemetry = createTelemetry({ tracer: broken, metrics: false, alerts: [{ name: 'errors', kind: 'failure-rate', threshold: 0.5, windowMs: 60_000 }] });
    const errors: TelemetryError[] = [];
    telemetry.errors$.subscribe((e) => errors.push(e));
    const engine = createEngine();
    const sub = telemetry.attach(engine);
    const t = topology('t').map('a', { run: () => 1 }).build({ output: 'a' });
    const r = await engine.run(t, undefined);
    sub.unsubscribe();
    expect(r.status).toBe('completed');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ sink: 'traces', eventType: 'run.started' });
    expect(String((errors[0]!.error as Error).message)).toBe('exporter bug');
    expect(telemetry.failures()).toEqual({ traces: errors.length });
  });
});
