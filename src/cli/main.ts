/**
 * `llmo`: run, validate and draw topologies, and serve or call them over Kafka.
 * This is the one place that reads the process environment, arguments and files
 * on behalf of the library. It builds the program and runs it; the commands and
 * their options are declared (commander only) by concept in local-commands.ts,
 * serving-commands.ts, durable-commands.ts and deployment-commands.ts, and each
 * command's code lives in `commands/<name>.ts` and is imported when that command
 * runs, so `llmo --help` loads only these declarations and commander, and
 * `validate` never loads Kafka, the worker or pino.
 * @module
 */
import { Command } from 'commander';
import { declareDeploymentCommands } from './deployment-commands.ts';
import { declareDurableCommands } from './durable-commands.ts';
import { EXIT } from './exit.ts';
import type { Io } from './io.ts';
import { declareLocalCommands } from './local-commands.ts';
import { declareServingCommands } from './serving-commands.ts';

export { EXIT, type ExitCode } from './exit.ts';
export type { Io } from './io.ts';

/** The telemetry and logging variables (kept here, not imported: `--help` loads nothing else). */
const TELEMETRY_HELP = `Telemetry: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER
  starts the OpenTelemetry SDK (spans and metrics of runs, nodes and model calls, flushed before exit) with the usual
  OTEL_* settings: OTEL_SERVICE_NAME (default llmo-<command>), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
  OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS, OTEL_LOG_LEVEL; OTEL_SDK_DISABLED=true turns it off.
  TRACEPARENT (and TRACESTATE) make \`run\` and \`submit\` continue that trace. \`worker --health-port\` serves
  GET /metrics (Prometheus) with or without these variables.
Worker logs: JSON lines on stderr with trace_id/span_id; LOG_LEVEL (default info), LOG_LEVELS=component=level,...
  (e.g. kafka=warn,worker=debug); credentials are scrubbed.
`;

const defaultIo = (): Io => ({ out: process.stdout, err: process.stderr, color: Boolean(process.stderr.isTTY) });

/**
 * Runs the CLI with `argv` (without the node and script entries); resolves with the exit code
 * ({@link EXIT}: 0 completed, 1 run failed or timed out waiting, 2 invalid usage/input/topology/settings, 69 Kafka unreachable,
 * 77 Kafka credentials refused or TLS failed, 130 cancelled).
 *
 * @example
 * ```ts
 * process.exitCode = await main(['validate', 'topologies/rag.ts']);
 * ```
 */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('llmo')
    .description('llm-orchestrator: multi-model LLM pipelines as backpressure-aware stream topologies')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .addHelpText('after', '\nExit codes: 0 completed, 1 run failed or timed out waiting, 2 invalid usage, input, topology or settings, 69 Kafka unreachable, 77 Kafka credentials refused or TLS failed, 130 cancelled; a worker whose health stays down exits 1.\n')
    .addHelpText('after', TELEMETRY_HELP);

  const done = (c: number): void => {
    code = c;
  };
  // in this order: the help lists the commands as they are declared
  declareLocalCommands(program, io, done);
  declareServingCommands(program, io, done);
  declareDurableCommands(program, io, done);
  declareDeploymentCommands(program, io, done);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    // commander has printed its own usage errors
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) return EXIT.invalid;
    io.err.write(`llmo: ${err.message ?? String(e)}\n`);
    return EXIT.invalid;
  }
  return code;
}
