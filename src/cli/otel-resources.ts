/**
 * Resource metrics of a long-lived CLI process (`llmo worker`, `llmo serve`): what it uses of its
 * machine, as the OpenTelemetry semantic conventions name it, from the OpenTelemetry JS contrib
 * packages (loaded only when asked for):
 * - `@opentelemetry/instrumentation-host-metrics`: `process.cpu.time`/`.utilization`, `process.memory.usage`, and the
 *   machine's `system.cpu.*`, `system.memory.*` and `system.network.*` (bytes, packets, errors, drops);
 * - `@opentelemetry/instrumentation-runtime-node`: `nodejs.eventloop.delay.*`, `.utilization` and `.time`,
 *   `v8js.gc.duration`, `v8js.memory.heap.*` (a run of synchronous nodes that holds the event loop
 *   shows in `nodejs.eventloop.delay.max`).
 * @module
 */
import type { MeterProvider } from '@opentelemetry/api';

/**
 * Starts recording the process's and the machine's resource use into `meterProvider`; resolves
 * with a function that stops it (the event-loop monitor, the GC observer and the observable
 * instruments' callbacks). Stop it after the provider's last export, which still reads them.
 *
 * @example
 * ```ts
 * const stopResources = await startResourceMetrics(provider);
 * // ... serve; then
 * await provider.shutdown();
 * stopResources();
 * ```
 */
export async function startResourceMetrics(meterProvider: MeterProvider): Promise<() => void> {
  const [{ HostMetricsInstrumentation }, { RuntimeNodeInstrumentation }] = await Promise.all([
    import('@opentelemetry/instrumentation-host-metrics'), import('@opentelemetry/instrumentation-runtime-node'),
  ]);
  // created disabled, so their instruments are made on this provider (not the global one) before they start
  const parts = [new HostMetricsInstrumentation({ enabled: false }), new RuntimeNodeInstrumentation({ enabled: false })];
  for (const p of parts) {
    p.setMeterProvider(meterProvider);
    p.enable();
  }
  return () => {
    for (const p of parts) p.disable();
  };
}
