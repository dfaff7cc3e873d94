/**
 * W20: what telemetry costs a run. The same topology (five trivial map nodes and one llm node on
 * `sim:fast`, 16 tokens) runs one at a time on engines in one process: without telemetry, with
 * telemetry attached but no SDK registered ("off"), with a no-op events$ subscriber (the bus's part),
 * and with telemetry on: spans (run, node and GenAI chat spans) through a real SDK into an in-memory
 * exporter, and metrics into a real MeterProvider. Targets: on ≤ 2× the no-subscriber cost; off
 * adds nothing measurable.
 * @module
 */
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { context, createNoopMeter, trace } from '@opentelemetry/api';
import { z } from 'zod';
import { createEngine, topology, type AnyTopology } from '../../src/index.ts';
import { createTelemetry } from '../../src/observability/index.ts';
import type { Workload } from '../lib/types.ts';
import { median } from '../lib/stats.ts';
import { cpuPerRun, cpuUs } from '../lib/cpu.ts';

function pipeline(): AnyTopology {
  return topology('w20', { input: z.object({ q: z.string() }), maxInFlight: 1024 })
    .map('a', { run: ({ input }) => input.q })
    .map('b', { after: ['a'], run: ({ deps }) => deps.a.length })
    .map('c', { after: ['b'], run: ({ deps }) => deps.b + 1 })
    .map('d', { after: ['c'], run: ({ deps }) => `${deps.c}` })
    .llm('answer', { after: ['d'], model: 'sim:fast', prompt: ({ deps }) => `What is ${deps.d} + 1?`, maxTokens: 16 })
    .map('out', { after: ['answer'], run: ({ deps }) => deps.answer.text })
    .build({ output: 'out' });
}

export const workload: Workload = {
  id: 'w20',
  title: 'Telemetry overhead: traces (GenAI spans) and metrics on, off, vs no subscriber',
  description: 'Six nodes (five trivial maps and one llm node on `sim:fast`, no delay, 16 tokens) run one at a time on four engines in one process: `quiet` (no subscriber on `engine.events$`), `off` (`createTelemetry()` attached with no OpenTelemetry SDK registered: it subscribes nothing), `subscribed` (one no-op subscriber: every event is built), and `on` (`createTelemetry({ tracer, meter })` with a real `BasicTracerProvider` + `BatchSpanProcessor` (the SDK\'s default processor) into an `InMemorySpanExporter`, flushed and emptied after each block, and a real `MeterProvider` with a reader): 8 spans per run (run, six nodes, one `chat` client span with gen_ai.* attributes) and the GenAI and run/node metrics. CPU time of the process per run (`process.cpuUsage()`), alternating blocks of 1,000 runs, median over 15 blocks (quick: 5). `on_ratio` = on ÷ quiet, `off_ratio` = off ÷ quiet. `sdk_floor_us`: the same 8 spans and 18 metric records made straight through the same providers with no engine (what any OpenTelemetry instrumentation of such a run pays the SDK); `ours_us`: a fifth engine with telemetry on against the API\'s no-op tracer and meter (every event built, every span and record made, nothing recorded), minus quiet: what we add apart from the SDK\'s own work. llm-orchestrator only.',
  metrics: [
    { name: 'quiet_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'off_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'subscribed_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'on_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'sdk_floor_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'ours_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'on_ratio', unit: '×', better: 'lower', ratio: false },
    { name: 'off_ratio', unit: '×', better: 'lower', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'on_ratio', op: '<=', value: 2, label: 'on ≤ 2× no subscriber' },
    { kind: 'value', metric: 'off_ratio', op: '<=', value: 1.05, label: 'off: nothing measurable (≤ 1.05×)' },
  ],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 90_000 : 240_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w20 measures llm-orchestrator's telemetry, not ${ctx.system.id}`);
    const t = pipeline();
    const spans = new InMemorySpanExporter();
    // the batch processor, as production sets up (the SDK's default); a queue large enough that no span is dropped
    const processor = new BatchSpanProcessor(spans, { maxQueueSize: 65_536, maxExportBatchSize: 4_096, scheduledDelayMillis: 20 });
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('w20');
    const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
    const meter = new MeterProvider({ readers: [reader] }).getMeter('w20');
    const runner = (mode: 'quiet' | 'off' | 'subscribed' | 'nosdk' | 'on'): ((i: number) => Promise<void>) => {
      const engine = createEngine();
      if (mode === 'off') createTelemetry().attach(engine);
      if (mode === 'subscribed') engine.events$.subscribe(() => undefined);
      if (mode === 'on') createTelemetry({ tracer, meter }).attach(engine);
      // our part alone: every sink runs (spans and records built, attributes and all) against the API's no-op tracer and meter
      if (mode === 'nosdk') createTelemetry({ tracer: trace.getTracer('w20-noop'), meter: createNoopMeter() }).attach(engine);
      return async (i) => {
        const r = await engine.run(t, { q: `q${i & 63}` });
        if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
      };
    };
    const variants: readonly [string, (i: number) => Promise<void>][] = [['quiet', runner('quiet')], ['off', runner('off')], ['subscribed', runner('subscribed')], ['nosdk', runner('nosdk')], ['on', runner('on')]];
    const block = 1_000;
    const blocks = ctx.mode === 'quick' ? 5 : 15;
    const times = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    for (const [, f] of variants) await cpuPerRun(f, block);
    await processor.forceFlush();
    const perRunSpans = spans.getFinishedSpans().length / block;
    if (perRunSpans !== 8) throw new Error(`expected 8 spans per run, got ${perRunSpans}`);
    spans.reset();
    for (let b = 0; b < blocks; b++) {
      for (let j = 0; j < variants.length; j++) {
        const [k, f] = variants[(b + j) % variants.length]!;
        times.get(k)!.push(await cpuPerRun(f, block));
      }
      await processor.forceFlush();
      spans.reset();
    }
    // the SDK's own floor: the same 8 spans (parented, with a few attributes) and 18 metric records
    // straight through the same providers, no engine: what any OpenTelemetry instrumentation pays
    const floorRuns = 20_000;
    const hist = meter.createHistogram('w20.floor.h');
    const counter = meter.createCounter('w20.floor.c');
    const attrs = { 'llmo.topology': 'w20', 'llmo.status': 'completed' };
    const floorBlocks: number[] = [];
    for (let b = 0; b < 3; b++) {
      const c0 = cpuUs();
      for (let i = 0; i < floorRuns; i++) {
        const now = Date.now();
        const run = tracer.startSpan('invoke_workflow w20', { startTime: now, attributes: { 'gen_ai.operation.name': 'invoke_workflow', 'llmo.run_id': `r${i}`, 'llmo.topology': 'w20' } });
        const parent = trace.setSpan(context.active(), run);
        for (let k = 0; k < 6; k++) {
          const node = tracer.startSpan('node n', { startTime: now, attributes: { 'llmo.run_id': `r${i}`, 'llmo.node_id': 'n' } }, parent);
          if (k === 4) tracer.startSpan('chat fast', { kind: 2, startTime: now, attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'fast', 'gen_ai.usage.input_tokens': 9 } }, trace.setSpan(context.active(), node)).end(now);
          node.end(now);
        }
        run.end(now);
        for (let k = 0; k < 12; k++) hist.record(0.001, attrs);
        for (let k = 0; k < 6; k++) counter.add(1, attrs);
      }
      floorBlocks.push((cpuUs() - c0) / floorRuns);
      await processor.forceFlush();
      spans.reset();
    }
    const floor = median(floorBlocks);
    await reader.shutdown();
    await processor.shutdown();
    const m = (k: string): number => median(times.get(k)!);
    const quiet = m('quiet');
    const off = median(times.get('off')!.map((x, k) => x / times.get('quiet')![k]!));
    const on = median(times.get('on')!.map((x, k) => x / times.get('quiet')![k]!));
    ctx.log(`${quiet.toFixed(1)} µs/run quiet, ${m('off').toFixed(1)} off, ${m('subscribed').toFixed(1)} subscribed, ${m('on').toFixed(1)} on (the SDK's own floor for those spans and records: ${floor.toFixed(1)}): on ${on.toFixed(2)}×, off ${off.toFixed(3)}×`);
    return { quiet_us: quiet, off_us: m('off'), subscribed_us: m('subscribed'), on_us: m('on'), sdk_floor_us: floor, ours_us: m('nosdk') - quiet, on_ratio: on, off_ratio: off };
  },
};
