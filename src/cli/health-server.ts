/**
 * `llmo worker --health-port`: a tiny node:http server for probes.
 * `GET /healthz` answers 200 with the health report as JSON while the status is
 * `up` or `degraded`, 503 when `down`; `GET /readyz` answers 200 once the worker
 * serves (its consumers joined) and is not down, else 503. With a `metrics` handler, `GET /metrics`
 * is the Prometheus scrape (text format). Anything else is 404.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Health } from '../transports/health.ts';

/**
 * A running health server.
 *
 * @example
 * ```ts
 * const server = await startHealthServer({ port: 0, health: worker.health, ready: () => true });
 * console.log(server.port);
 * await server.close();
 * ```
 */
export interface HealthServer {
  /** The port it listens on (the chosen one when asked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Options of {@link startHealthServer}.
 *
 * @example
 * ```ts
 * const options: HealthServerOptions = { port: 8081, health: worker.health, ready: () => true, metrics: otel.metricsHandler };
 * ```
 */
export interface HealthServerOptions {
  readonly port: number;
  /** Default 0.0.0.0. */
  readonly host?: string;
  readonly health: Health;
  readonly ready: () => boolean;
  /** Answers `GET /metrics` (a Prometheus exporter's request handler); without it /metrics is 404. */
  readonly metrics?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

/**
 * Listens on `host:port` (default 0.0.0.0) and answers from `health` (and `metrics`).
 *
 * @example
 * ```ts
 * const server = await startHealthServer({ port: 8081, health: worker.health, ready: () => started });
 * ```
 */
export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const report = o.health.report();
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') answer(405, { error: 'GET only' });
    else if (url === '/metrics' && o.metrics !== undefined) o.metrics(req, res);
    else if (url === '/healthz') answer(report.status === 'down' ? 503 : 200, report);
    else if (url === '/readyz') {
      const ready = o.ready() && report.status !== 'down';
      answer(ready ? 200 : 503, { ready, status: report.status });
    } else answer(404, { error: `try /healthz or /readyz${o.metrics === undefined ? '' : ' or /metrics'}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * `--health-port` of a long-lived command: no server without the flag, the started one, or why it
 * could not start (a message naming the flag; the command cleans up and exits 2).
 *
 * @example
 * ```ts
 * const h = await healthFlag(opts.healthPort, { health: worker.health, ready: () => serving, metrics });
 * if (!h.ok) { await cleanUp(); return fail(io, h.message); }
 * ```
 */
export async function healthFlag(
  port: number | undefined, o: Omit<HealthServerOptions, 'port'>,
): Promise<{ readonly ok: true; readonly server: HealthServer | undefined } | { readonly ok: false; readonly message: string }> {
  if (port === undefined) return { ok: true, server: undefined };
  try {
    return { ok: true, server: await startHealthServer({ ...o, port }) };
  } catch (e) {
    return { ok: false, message: `--health-port ${port}: ${(e as Error).message}` };
  }
}
