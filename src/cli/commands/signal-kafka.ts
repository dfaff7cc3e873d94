/**
 * `llmo signal <runId> <name> --brokers <list>`: the signal as a message on the signals
 * topic (see src/worker/signals.ts). Kafka settings resolve as the worker's and submit's
 * do. With `--wait`, the client is positioned on the result and event topics before the
 * signal leaves, then waits for the run's final result (printed as one JSON line; exit 0
 * when completed or parked again, 1 otherwise) or for a worker's `signal.rejected` event
 * for this signal (exit 1 with its message), at most `--timeout` ms.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { KafkaTransportOptions } from '../../transports/kafka/index.ts';
import { isParkedResult, SIGNAL_REJECTED, type RunResultMessage } from '../../transports/messages.ts';
import { createClient } from '../../worker/client.ts';
import { EXIT } from '../exit.ts';
import { connectKafka } from '../connect.ts';
import { fail, type Io } from '../io.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { kafkaProblem, openKafka, type OpenedKafka } from '../kafka.ts';

/**
 * What `llmo signal` over Kafka reads of its flags.
 *
 * @example
 * ```ts
 * const opts: SignalKafkaOptions = { brokers: '127.0.0.1:9092', wait: true, timeout: 30_000 };
 * ```
 */
export interface SignalKafkaOptions extends KafkaFlags {
  /** The request whose result the resumed run answers (default the run id). */
  readonly requestId?: string | undefined;
  /** Wait for the run's final result (or the signal's rejection) and print it. */
  readonly wait?: boolean | undefined;
  /** With `wait`: give up after this many ms (exit 1). Default 60,000. */
  readonly timeout?: number | undefined;
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
 * Sends a signal message; resolves with the exit code. `open` makes the transport (default Kafka).
 *
 * @example
 * ```ts
 * const code = await signalOverKafka('req-1', 'approval', { approved: true, by: 'ana' }, { brokers: '127.0.0.1:9092', wait: true }, io);
 * ```
 */
export async function signalOverKafka(
  runId: string, name: string, payload: unknown, opts: SignalKafkaOptions, io: Io, open: (options: KafkaTransportOptions) => OpenedKafka = openKafka,
): Promise<number> {
  const c = await connectKafka(opts, io, 'llmo-signal', open);
  if (!c.ok) return c.code;
  const { transport, where } = c;
  const requestId = opts.requestId ?? runId;
  const signalId = randomUUID();
  const timeout = opts.timeout ?? 60_000;
  const client = createClient(transport);
  let timer: NodeJS.Timeout | undefined;
  let events: { unsubscribe(): void } | undefined;
  try {
    if (opts.wait !== true) {
      await client.signal(runId, name, payload, { signalId, requestId });
      io.err.write(`signal '${name}' (${signalId}) for run '${runId}' sent to ${transport.topics.signal}\n`);
      return EXIT.ok;
    }
    // positioned on results and events before the signal leaves: neither answer can be missed
    let positioned!: () => void;
    const eventsReady = new Promise<void>((resolve) => (positioned = resolve));
    let refuse!: (r: { rejected: { code?: string; message?: string } }) => void;
    let broken!: (e: unknown) => void;
    const rejected = new Promise<{ rejected: { code?: string; message?: string } }>((resolve, reject) => { refuse = resolve; broken = reject; });
    rejected.catch(() => undefined);
    events = transport.read('event', { fromBeginning: false, onReady: () => positioned() }).subscribe({
      next: (m) => {
        if (m.value.type !== SIGNAL_REJECTED || m.value.runId !== runId) return;
        let data: { signalId?: unknown; code?: string; message?: string };
        try {
          data = JSON.parse(m.value.data) as typeof data;
        } catch {
          return; // not a worker's rejection: its data is always JSON
        }
        if (data.signalId === signalId) refuse({ rejected: data });
      },
      error: (e: unknown) => broken(e),
    });
    await Promise.all([client.ready(), eventsReady]);
    const final = client.result(requestId, { final: true }).then((r) => ({ result: r }));
    await client.signal(runId, name, payload, { signalId, requestId });
    io.err.write(`signal '${name}' (${signalId}) for run '${runId}' sent to ${transport.topics.signal}; waiting for the result of request ${requestId} on ${transport.topics.result} (up to ${timeout} ms) ...\n`);
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeout); });
    const outcome = await Promise.race([final, rejected, timedOut]);
    if (outcome === 'timeout') {
      return fail(io, `timed out after ${timeout} ms waiting for the result of request ${requestId} (is a worker with --store serving its topology on ${transport.topics.signal}?)`, EXIT.runFailed);
    }
    if ('rejected' in outcome) return fail(io, `signal '${name}' to run '${runId}' refused: ${outcome.rejected.code ?? '?'}: ${outcome.rejected.message ?? ''}`, EXIT.runFailed);
    const r = outcome.result;
    io.out.write(line(r));
    return r.status === 'completed' || isParkedResult(r) ? EXIT.ok : EXIT.runFailed;
  } catch (e) {
    const p = kafkaProblem(where, e);
    return fail(io, p.message, p.code);
  } finally {
    clearTimeout(timer);
    events?.unsubscribe();
    await client.close();
    await transport.close().catch(() => undefined);
  }
}
