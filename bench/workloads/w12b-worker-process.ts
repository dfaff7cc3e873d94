/**
 * One W12b worker in a process of its own:
 *   node --import tsx bench/workloads/w12b-worker-process.ts <system> <prefix> <maxInFlight>
 * with KAFKA_BROKERS set. Prints `READY` once the worker consumes, serves until
 * its stdin closes (the measuring child ends or closes it), then stops and exits.
 * @module
 */
import { SYSTEM_IDS, type SystemId } from '../lib/types.ts';
import { loadSystem } from '../systems/index.ts';
import { kafkaBrokers } from './kafka.ts';

async function main(): Promise<void> {
  const [systemId, prefix, max] = process.argv.slice(2);
  const brokers = kafkaBrokers();
  if (systemId === undefined || prefix === undefined || max === undefined || brokers === undefined) {
    throw new Error('usage: KAFKA_BROKERS=… w12b-worker-process.ts <system> <prefix> <maxInFlight>');
  }
  if (!(SYSTEM_IDS as readonly string[]).includes(systemId)) throw new Error(`unknown system '${systemId}'`);
  const system = await loadSystem(systemId as SystemId);
  if (system.kafkaServe === undefined) throw new Error(`${systemId} has no Kafka worker`);
  const tag = `[w12b worker ${process.pid}]`;
  const worker = await system.kafkaServe({ brokers, prefix, log: (m) => process.stderr.write(`${tag} ${m}\n`) }, Number(max));
  process.stdout.write('READY\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve).on('close', resolve).resume();
  });
  await worker.close();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
