/**
 * `llmo signal <runId> <name> --payload <json> --store <url> <topology-file...>`: ends
 * the wait a parked run waits on and resumes the run in this process until it ends
 * (or parks again), then exits. The topology files are the definitions the run may
 * have been recorded under (the wait node's schema validates the payload).
 *
 * `llmo signal <runId> <name> --payload <json> --brokers <list>` (or `--kafka-config`):
 * sends a signal message on the signals topic instead; a worker with a run store
 * resumes the run and publishes its final result under its request id. With `--wait`
 * it waits for that result (or the worker's `signal.rejected` event) and prints it.
 * @module
 */
import { isOrchestratorError, isValidationError } from '../../errors.ts';
import { EXIT } from '../exit.ts';
import { fail, type Io } from '../io.ts';
import { openDurableEngine } from '../durable-engine.ts';
import { storeUrl } from '../store-flag.ts';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';
import type { OpenedKafka } from '../kafka.ts';
import type { SignalKafkaOptions } from './signal-kafka.ts';

/**
 * Options of `llmo signal`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: SignalCommandOptions = { store: 'runs.db', payload: '{"approved":true}' };
 * ```
 */
export interface SignalCommandOptions extends SignalKafkaOptions {
  readonly store?: string | undefined;
  /** The payload, as JSON. Default `null`. */
  readonly payload?: string | undefined;
  readonly ops?: string | undefined;
  readonly json?: boolean | undefined;
  /** With `--store`: the policies and budgets the resumed run is checked against (as `llmo run --governance`). */
  readonly governance?: string | undefined;
  /** With `--store`: where the resumed run's audit records go (as `llmo run --audit`). */
  readonly audit?: string | undefined;
}

/**
 * Signals a parked run and resumes it; resolves with the exit code: 0 the run completed
 * or parked again, 1 it failed or the signal was refused (unknown run, not waiting, wrong
 * name, invalid payload), 2 invalid usage or topology.
 *
 * @example
 * ```ts
 * const code = await signalCommand('r1', 'approval', ['topologies/approval.ts'], { store: 'runs.db', payload: '{"approved":true}' }, io);
 * ```
 */
export async function signalCommand(
  runId: string, name: string, files: readonly string[], opts: SignalCommandOptions, io: Io, open?: (options: KafkaTransportOptions) => OpenedKafka,
): Promise<number> {
  let payload: unknown = null;
  if (opts.payload !== undefined) {
    try {
      payload = JSON.parse(opts.payload);
    } catch (e) {
      return fail(io, `--payload is not JSON: ${(e as Error).message}`);
    }
  }
  if (opts.brokers !== undefined || opts.kafkaConfig !== undefined) {
    if (opts.store !== undefined) return fail(io, 'signal takes --store (resume here) or --brokers/--kafka-config (send a signal message), not both');
    const { signalOverKafka } = await import('./signal-kafka.ts');
    return signalOverKafka(runId, name, payload, opts, io, open);
  }
  const url = storeUrl(opts.store, io);
  if (url === undefined) return fail(io, 'signal needs --store <url> (or LLMO_STORE) to resume the run here, or --brokers <list> to send a signal message to the workers');
  if (files.length === 0) return fail(io, 'signal needs the topology file(s) the run was recorded under');
  const opened = await openDurableEngine(files, url, opts.ops, io, { command: 'signal', governance: opts.governance, audit: opts.audit });
  if (!opened.ok) return opened.code;
  const { engine } = opened;
  try {
    const receipt = await engine.signal(runId, name, payload);
    if (receipt.result === undefined) {
      io.err.write(`signal stored; run '${runId}' is resumed by another process\n`);
      return EXIT.ok;
    }
    const r = await receipt.result;
    if (opts.json === true) io.out.write(`${JSON.stringify(r)}\n`);
    else if (r.status === 'waiting') io.err.write(`⏸ ${r.runId} parked again on wait '${r.wait.name}'\n`);
    else io.err.write(`${r.status === 'completed' ? '✓' : '✗'} ${r.runId} (${r.topology}) ${r.status}${r.error === undefined ? '' : `: ${r.error.message}`}\n`);
    if (r.status === 'completed' && opts.json !== true) io.out.write(`${typeof r.output === 'string' ? r.output : JSON.stringify(r.output ?? r.outputs, null, 2)}\n`);
    return r.status === 'completed' || r.status === 'waiting' ? EXIT.ok : EXIT.runFailed;
  } catch (e) {
    const what = isValidationError(e) || isOrchestratorError(e) ? `${e.code}: ${e.message}` : String(e);
    return fail(io, `signal '${name}' to run '${runId}': ${what}`, EXIT.runFailed);
  } finally {
    await opened.close();
  }
}
