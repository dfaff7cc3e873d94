/**
 * `llmo worker <topology>`: serves a topology from Kafka in a consumer group
 * until SIGINT/SIGTERM, then finishes the runs in flight. A broker that cannot
 * be reached is reported in one line (exit 2) before anything starts.
 * @module
 */
import { pino } from 'pino';
import { createEngine } from '../../runtime/engine.ts';
import { createWorker } from '../../worker/worker.ts';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import { loadForCli } from '../load.ts';
import { modelsFromEnv } from '../env.ts';
import { FAIL_FAST, openKafka, reachKafka } from '../kafka.ts';

/**
 * Options of `llmo worker`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: WorkerCommandOptions = { brokers: '127.0.0.1:9092', group: 'llmo-workers', prefix: 'llmo', maxInFlight: 16, partitions: 6 };
 * ```
 */
export interface WorkerCommandOptions {
  readonly brokers: string;
  /** Default: derived from the prefix and the topology (see `workerGroup`). */
  readonly group?: string;
  readonly prefix: string;
  readonly maxInFlight: number;
  readonly partitions: number;
  readonly ops?: string;
}

/**
 * Serves `file` until SIGINT/SIGTERM; resolves with the exit code.
 *
 * @example
 * ```ts
 * const code = await workerCommand('topologies/rag.ts', { brokers: '127.0.0.1:9092', group: 'llmo-workers', prefix: 'llmo', maxInFlight: 16, partitions: 6 }, io);
 * ```
 */
export async function workerCommand(file: string, opts: WorkerCommandOptions, io: Io): Promise<number> {
  const loaded = await loadForCli(file, opts.ops);
  if (!loaded.ok) return reportIssues(io, file, loaded.issues);
  const brokers = opts.brokers.split(',').map((b) => b.trim()).filter(Boolean);
  const where = brokers.join(',');
  const kafka = { brokers, prefix: opts.prefix, partitions: opts.partitions };
  // A fail-fast probe creates the topics; the worker's own transport keeps kafkajs's patient retries.
  const probe = openKafka({ ...kafka, clientId: 'llmo-worker', ...FAIL_FAST });
  if (!probe.ok) return reportIssues(io, 'a Kafka option (--brokers, --prefix)', probe.issues);
  const problem = await reachKafka(probe.transport, where);
  await probe.transport.close().catch(() => undefined);
  if (problem !== undefined) return fail(io, problem);

  const env = io.env ?? process.env;
  const logger = pino({ level: env['LOG_LEVEL'] ?? 'info' }, process.stderr);
  const engine = createEngine({ models: modelsFromEnv(env).models, logger, ...loaded.engineOptions });
  const opened = openKafka({ ...kafka, logger, clientId: 'llmo-worker' });
  if (!opened.ok) return reportIssues(io, 'a Kafka option (--brokers, --prefix)', opened.issues);
  const transport = opened.transport;
  const worker = createWorker({ engine, transport, topologies: [loaded.topology], ...(opts.group === undefined ? {} : { group: opts.group }), maxInFlight: opts.maxInFlight, logger });
  await worker.start();
  io.err.write(`worker ${worker.id} serving '${loaded.topology.name}' in group '${worker.group}' (max ${opts.maxInFlight} in flight); Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.err.write('stopping: finishing runs in flight...\n');
  await worker.stop();
  await engine.shutdown();
  await transport.close();
  io.err.write(`stopped after ${worker.handled} requests\n`);
  return EXIT.ok;
}
