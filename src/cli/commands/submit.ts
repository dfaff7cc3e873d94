/**
 * `llmo submit <topologyName>`: sends run requests to a worker group over Kafka
 * and prints each result as one JSON line. It says what it waits for, gives up
 * after `--timeout` (exit 1, naming how many results are missing), and reports a
 * broker it cannot reach in one line (exit 69; refused credentials 77). Its Kafka
 * settings are resolved exactly as the worker's (flags, `--kafka-config`,
 * `KAFKA_*`), so both create the topics alike.
 * @module
 */
import { createClient } from '../../worker/client.ts';
import type { RunResultMessage } from '../../transports/messages.ts';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import { readInput } from '../input.ts';
import { byFlag, resolveKafka, type KafkaFlags } from '../kafka-config.ts';
import { FAIL_FAST, kafkaProblem, openKafka, reachKafka, type OpenedKafka } from '../kafka.ts';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';

/**
 * Options of `llmo submit`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: SubmitCommandOptions = { brokers: '127.0.0.1:9092', count: 1, timeout: 60_000 };
 * ```
 */
export interface SubmitCommandOptions extends KafkaFlags {
  readonly input?: string | undefined;
  readonly count: number;
  /** Give up waiting for results after this many ms. */
  readonly timeout: number;
}

const line = (r: RunResultMessage): string => {
  let output: unknown = r.output;
  try {
    output = r.output === null ? null : JSON.parse(r.output) as unknown;
  } catch {
    // not JSON: print as sent
  }
  return `${JSON.stringify({ ...r, output, outputs: undefined })}\n`;
};

/**
 * Submits `count` runs of `name`; resolves with the exit code. `open` makes the transport
 * (default: Kafka; tests pass an in-memory one).
 *
 * @example
 * ```ts
 * const code = await submitCommand('rag', { brokers: '127.0.0.1:9092', input: '{"question":"why?"}', count: 1, timeout: 60_000 }, io);
 * ```
 */
export async function submitCommand(name: string, opts: SubmitCommandOptions, io: Io, open: (options: KafkaTransportOptions) => OpenedKafka = openKafka): Promise<number> {
  const input = await readInput(opts.input);
  if (!input.ok) return fail(io, input.message);
  const resolved = await resolveKafka(opts, io.env ?? process.env, { clientId: 'llmo-submit' });
  if (!resolved.ok) return reportIssues(io, resolved.what, byFlag(resolved.issues, opts));
  const { options, where } = resolved.value;
  const opened = open({ ...options, retries: FAIL_FAST.retries, connectionTimeoutMs: options.connectionTimeoutMs ?? FAIL_FAST.connectionTimeoutMs });
  if (!opened.ok) return reportIssues(io, 'the Kafka settings (flags, --kafka-config, KAFKA_* variables)', byFlag(opened.issues, opts));
  const transport = opened.transport;
  const warnings = transport.events$.subscribe((e) => { if (e.type === 'topic.mismatch') io.err.write(`llmo: warning: ${e.message}\n`); });
  const problem = await reachKafka(transport, where);
  warnings.unsubscribe();
  if (problem !== undefined) {
    await transport.close().catch(() => undefined);
    return fail(io, problem.message, problem.code);
  }

  const client = createClient(transport);
  io.err.write(`submitted ${opts.count} request(s) for '${name}' to ${transport.topics.request}; waiting for ${opts.count} result(s) from the worker group on topic ${transport.topics.result} (up to ${opts.timeout} ms) ...\n`);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), opts.timeout); });
  const arrived: RunResultMessage[] = [];
  const submits = Array.from({ length: opts.count }, () => client.submit(name, input.value).then((r) => { arrived.push(r); io.out.write(line(r)); return r; }));
  let code: number;
  try {
    const outcome = await Promise.race([Promise.all(submits), timedOut]);
    if (outcome === 'timeout') {
      const missing = opts.count - arrived.length;
      code = fail(io, `timed out after ${opts.timeout} ms: ${missing} of ${opts.count} result(s) missing (is a worker serving '${name}' on ${transport.topics.request}? start one with: llmo worker <topology> --brokers ${where})`, EXIT.runFailed);
    } else {
      code = outcome.every((r) => r.status === 'completed') ? EXIT.ok : EXIT.runFailed;
    }
  } catch (e) {
    const p = kafkaProblem(where, e);
    code = fail(io, p.message, p.code);
  } finally {
    clearTimeout(timer);
    await client.close();
    await transport.close().catch(() => undefined);
  }
  return code;
}
