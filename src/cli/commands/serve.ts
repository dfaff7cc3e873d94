/**
 * `llmo serve <topology...>`: the HTTP API and the live view on the embedded default
 * (runs in this process, kept in memory, or in `--store`), or in front of a Kafka worker
 * group (`--brokers`/`--kafka-config`: runs are sent to the workers, and `--store` must be
 * the store they share, where the server reads run history). API keys come from `--keys`
 * (else `LLMO_KEYS`, else `.llmo/keys.json`); when there is none yet, a first admin key is created and
 * printed once, so a new user can open the page at once. Serves until SIGINT/SIGTERM,
 * then stops taking requests, ends open streams and drains the runs in flight.
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { AnyTopology } from '../../definition/types.ts';
import { createEngine } from '../../runtime/engine.ts';
import type { RunStore } from '../../runtime/store.ts';
import { createMemoryStore } from '../../stores/memory.ts';
import type { KeyStore } from '../../server/access.ts';
import { createLocalBackend, type RunBackend } from '../../server/backend.ts';
import { createKafkaBackend } from '../../server/backend-kafka.ts';
import { createClient } from '../../worker/client.ts';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';
import { probeKafka } from '../connect.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { openKafka } from '../kafka.ts';
import { openKeyStore } from '../../server/keys/open.ts';
import { keysUrl } from './keys.ts';
import { createServer, type LlmoServer } from '../../server/server.ts';
import { ServerOptionsSchema } from '../../server/options.ts';
import { toIssues } from '../../errors.ts';
import { modelsFromEnv } from '../env.ts';
import { EXIT } from '../exit.ts';
import { loadGovernance } from '../governance.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import { loadForCli } from '../load.ts';
import { mergeEngineOptions, withGuards, type EngineOptionsPart } from '../engine-options.ts';
import { createCliLogger, parseLogLevels } from '../logging.ts';
import { startCliTelemetry } from '../otel.ts';
import { openCliStore, storeUrl } from '../store-flag.ts';

/**
 * Options of `llmo serve`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: ServeCommandOptions = { port: 8787, host: '127.0.0.1' };
 * ```
 */
export interface ServeCommandOptions extends KafkaFlags {
  readonly port: number;
  readonly host: string;
  readonly store?: string | undefined;
  readonly keys?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Requests per key per window (`--rate-limit`). */
  readonly rateLimit?: { readonly max: number; readonly windowMs: number } | undefined;
  /** Failed authentications per address per window (`--failed-auth-limit`). */
  readonly failedAuthLimit?: { readonly max: number; readonly windowMs: number } | undefined;
  /** Browser origins allowed to call the API (`--cors-origin`). */
  readonly corsOrigin?: readonly string[] | undefined;
  /** Proxies trusted for the client's address (`--trust-proxy`). */
  readonly trustProxy?: true | number | readonly string[] | undefined;
  readonly governance?: string | undefined;
  readonly ops?: string | undefined;
}

/**
 * Serves the topologies until SIGINT/SIGTERM (or `stop` aborts); resolves with the exit code.
 * `started` is called with the base URL once the server listens (tests use it).
 *
 * @example
 * ```ts
 * const code = await serveCommand(['topologies/rag.ts'], { port: 8787, host: '127.0.0.1' }, io);
 * ```
 */
export async function serveCommand(
  files: readonly string[], opts: ServeCommandOptions, io: Io, stop?: AbortSignal, started?: (url: string) => void,
): Promise<number> {
  const env = io.env ?? process.env;
  const levels = parseLogLevels(env);
  if (!levels.ok) return reportIssues(io, 'the LOG_LEVEL and LOG_LEVELS variables', levels.issues);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) return fail(io, 'give both --tls-cert and --tls-key (PEM files), or neither');
  if (opts.corsOrigin !== undefined) {
    const origins = ServerOptionsSchema.shape.corsOrigins.safeParse(opts.corsOrigin);
    if (!origins.success) return reportIssues(io, `--cors-origin ${opts.corsOrigin.join(',')}`, toIssues(origins.error.issues));
  }
  const topologies: AnyTopology[] = [];
  const parts: EngineOptionsPart[] = [];
  for (const file of files) {
    const loaded = await loadForCli(file, opts.ops);
    if (!loaded.ok) return reportIssues(io, file, loaded.issues);
    if (topologies.some((t) => t.name === loaded.topology.name)) return fail(io, `${file}: a topology named '${loaded.topology.name}' is already served`);
    topologies.push(loaded.topology);
    parts.push({ file, options: loaded.engineOptions });
  }
  const merged = mergeEngineOptions(parts);
  if (!merged.ok) return reportIssues(io, `the engine options of ${files.join(', ')}`, merged.issues);
  let tls: { cert: string; key: string } | undefined;
  if (opts.tlsCert !== undefined && opts.tlsKey !== undefined) {
    try {
      tls = { cert: await readFile(opts.tlsCert, 'utf8'), key: await readFile(opts.tlsKey, 'utf8') };
    } catch (e) {
      return fail(io, `cannot read the TLS files: ${(e as Error).message}`);
    }
  }
  const kafkaWanted = opts.brokers !== undefined || opts.kafkaConfig !== undefined;
  const url = storeUrl(opts.store, io);
  if (kafkaWanted && url === undefined) return fail(io, 'with --brokers, give --store <url>: the store the workers record runs in (the server reads run history from it)');
  // a fail-fast probe creates (or checks) the topics; the server's own transport keeps kafkajs's patient retries
  let kafka: KafkaTransportOptions | undefined;
  let kafkaWhere = 'Kafka';
  if (kafkaWanted) {
    const probed = await probeKafka(opts, io, 'llmo-serve');
    if (!probed.ok) return probed.code;
    kafka = probed.options;
    kafkaWhere = probed.where;
  }
  const logger = createCliLogger({ levels: levels.value, env, destination: io.err, secrets: kafka?.sasl === undefined ? [] : [kafka.sasl.password] });
  let store: RunStore;
  if (url === undefined) store = createMemoryStore();
  else {
    const opened = await openCliStore(url, io, logger);
    if (!opened.ok) return opened.code;
    store = opened.store;
  }
  const keysAt = keysUrl(opts.keys, io);
  let keys: KeyStore;
  try {
    keys = await openKeyStore(keysAt);
  } catch (e) {
    await store.close().catch(() => undefined);
    return fail(io, `--keys ${keysAt}: ${(e as Error).message}`);
  }
  const govLog = logger.child({ component: 'governance' });
  const gov = await loadGovernance(opts.governance, { storeUrl: url, onProblem: (m) => govLog.error(m) });
  if (!gov.ok) {
    await Promise.allSettled([store.close(), keys.close()]);
    return reportIssues(io, `--governance ${opts.governance}`, gov.issues);
  }
  const otelLog = logger.child({ component: 'otel' });
  const otel = await startCliTelemetry({ command: 'serve', env, report: (level, message) => otelLog[level](message), prometheus: true, resourceMetrics: true });
  const engine = createEngine({
    models: modelsFromEnv(env).models, logger, ...withGuards(merged.options, gov.guards), store, topologies,
  });
  const observed = otel.telemetry.attach(engine);
  let backend: RunBackend;
  let closeKafka = async (): Promise<void> => undefined;
  if (kafka !== undefined) {
    const opened = openKafka({ ...kafka, logger });
    if (!opened.ok) {
      // close what is open: a PostgreSQL store's or key store's pool would keep the process alive
      await engine.shutdown();
      observed.unsubscribe();
      await Promise.allSettled([gov.close(), keys.close(), store.close()]);
      await otel.shutdown();
      return reportIssues(io, 'the Kafka settings', opened.issues);
    }
    const client = createClient(opened.transport);
    backend = createKafkaBackend({ client, topologies, engine, logger: logger.child({ component: 'server' }) });
    closeKafka = async () => {
      await client.close().catch(() => undefined);
      await opened.transport.close().catch(() => undefined);
    };
  } else backend = createLocalBackend(engine, topologies);
  let server: LlmoServer | undefined;
  const closeAll = async (): Promise<void> => {
    await server?.close().catch((e: unknown) => logger.error({ err: e }, 'closing the server failed'));
    await backend.close();
    await closeKafka();
    await engine.shutdown();
    observed.unsubscribe();
    await Promise.allSettled([gov.close(), keys.close()]);
    await store.close().catch((e: unknown) => io.err.write(`llmo: warning: closing ${store.location}: ${(e as Error).message}\n`));
    await otel.shutdown();
  };
  let base: string;
  try {
    if (url !== undefined && backend.kind === 'local') {
      // a server in front of workers leaves recovery to them
      const report = await engine.recover();
      for (const f of report.failed) logger.error({ runId: f.runId, code: f.error.code }, f.error.message);
      io.err.write(`recovered ${report.resumed.length} run(s) from ${store.location}\n`);
    }
    const first = await firstKey(keys);
    server = await createServer({
      backend, runs: engine.runs, keys, logger: logger.child({ component: 'server' }),
      ...(otel.metricsHandler === undefined ? {} : { metrics: otel.metricsHandler }),
    }, {
      host: opts.host, port: opts.port, ...(tls === undefined ? {} : { tls }),
      ...(opts.rateLimit === undefined ? {} : { rateLimit: opts.rateLimit }),
      ...(opts.failedAuthLimit === undefined ? {} : { failedAuthLimit: opts.failedAuthLimit }),
      ...(opts.trustProxy === undefined ? {} : { trustProxy: typeof opts.trustProxy === 'object' ? [...opts.trustProxy] : opts.trustProxy }),
      ...(opts.corsOrigin === undefined ? {} : { corsOrigins: [...opts.corsOrigin] }),
    });
    base = await server.listen();
    const names = topologies.map((t) => t.name).join(', ');
    const where = backend.kind === 'kafka' ? `runs sent to the workers at ${kafkaWhere}` : 'runs in this process';
    io.err.write(`llmo serve: ${names} on ${base} (${where}; ${url === undefined ? 'kept in memory only: --store <url> keeps them' : `stored in ${store.location}`}; keys in ${keys.location}); Ctrl-C to stop\n`);
    if (first !== undefined) {
      io.err.write(`created the first API key (tenant default, admin of every topology); it is shown once, here:\n`);
      io.out.write(`${first}\n`);
      io.err.write(`open ${base}/#key=${first}\n`);
    } else io.err.write(`open ${base}/ and enter an API key (llmo keys create --keys ${keysAt})\n`);
  } catch (e) {
    await closeAll();
    return fail(io, `cannot serve on ${opts.host}:${opts.port}: ${(e as Error).message}`, EXIT.runFailed);
  }
  started?.(base);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    stop?.addEventListener('abort', done);
    if (stop?.aborted === true) done();
  });
  io.err.write('stopping: no new requests; draining the runs in flight\n');
  await closeAll();
  return EXIT.ok;
}

/** A first admin key when the store has none (a fresh `llmo serve`), else undefined. */
async function firstKey(keys: KeyStore): Promise<string | undefined> {
  if ((await keys.list()).length > 0) return undefined;
  const created = await keys.create({ tenant: 'default', roles: { '*': 'admin' }, name: 'first key (llmo serve)' });
  return created.secret;
}
