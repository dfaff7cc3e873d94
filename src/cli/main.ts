/**
 * `llmo`: run, validate and draw topologies, and serve or call them over Kafka.
 * This is the one place that reads the process environment, arguments and files
 * on behalf of the library. It declares the commands and their options (commander
 * only); each command's code lives in `commands/<name>.ts` and is imported when
 * that command runs, so `llmo --help` loads next to nothing and `validate` never
 * loads Kafka, the worker or pino.
 * @module
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT } from './exit.ts';
import type { Io } from './io.ts';

export { EXIT, type ExitCode } from './exit.ts';
export type { Io } from './io.ts';

const positive = (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
};

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

const nonNegativeInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

const rate = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
};

const retention = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < -1) throw new InvalidArgumentError('must be an integer of ms, or -1 (keep forever)');
  return n;
};

const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number (0-65535; 0: any free port)');
  return n;
};

/** The variables `worker` and `submit` read (kept here, not imported: `--help` loads nothing else). */
const KAFKA_HELP = `
Kafka settings: flags win over the --kafka-config file, which wins over KAFKA_* variables.
  --kafka-config <file>  JSON or YAML: brokers, clientId, prefix, ssl (true, or ca/caFile, cert/certFile,
                         key/keyFile, rejectUnauthorized, servername), sasl (mechanism: plain, scram-sha-256
                         or scram-sha-512; username; password), partitions, replicationFactor, retentionMs,
                         minInsyncReplicas, sessionTimeoutMs, connectionTimeoutMs. File paths are relative to the file.
  Environment: KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_SSL (true|false), KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE,
               KAFKA_SSL_KEY_FILE, KAFKA_SSL_REJECT_UNAUTHORIZED, KAFKA_SSL_SERVERNAME, KAFKA_SASL_MECHANISM,
               KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD.
Topics are created with --partitions (default 6), --replication-factor (default 1), --retention-ms and
--min-insync-replicas; the policies topic is compacted. Existing topics are checked: fewer partitions, a
non-compacted policies topic or another retention is a warning; a lower replication factor or a compacted
run topic is an error (exit 2).
Exit codes: 69 no broker reachable, 77 credentials refused or TLS failed, 2 invalid settings.
`;

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

/** The Kafka options of `worker` and `submit`: the same flags, parsed by the same code (kafka-config.ts). */
function kafkaOptions(cmd: Command): Command {
  return cmd
    .option('-b, --brokers <list>', 'Kafka bootstrap brokers, comma-separated host:port (or brokers in --kafka-config, or KAFKA_BROKERS)')
    .option('--kafka-config <file>', 'Kafka connection settings, JSON or YAML (see below)')
    .option('--client-id <id>', 'Kafka client id (default llmo-worker / llmo-submit)')
    .option('--prefix <prefix>', 'topic name prefix (default llmo)')
    .option('--partitions <n>', 'partitions of topics created (default 6)', positiveInt)
    .option('--replication-factor <n>', 'replication factor of topics created (default 1)', positiveInt)
    .option('--retention-ms <ms>', "retention.ms of topics created (-1: forever; default the broker's)", retention)
    .option('--min-insync-replicas <n>', "min.insync.replicas of topics created (default the broker's)", positiveInt)
    .option('--session-timeout-ms <ms>', 'consumer session timeout (default 10000)', positiveInt)
    .addHelpText('after', KAFKA_HELP);
}

const STORE = 'record runs in a run store: a file path (embedded SQLite) or postgres://... (default LLMO_STORE)';

const SLO = 'SLO rules (YAML or JSON) evaluated over the runs; each alert raised or resolved is printed as one line on stderr';

const GOVERNANCE = 'policy rules and budgets (YAML or JSON: policies, budgets, ledger) checked before each run, model call and tool call';

const OPS = 'operator registry for JSON/YAML topologies (default: <name>.ops.{ts,mts,js,mjs} beside it)';

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

  program.command('run')
    .description('run a topology once and show node progress as it happens')
    .argument('<topology>', 'a .ts/.js module exporting a topology, or a .json/.yaml document')
    .option('-i, --input <json|@file>', 'run input as JSON, or @path to a JSON file')
    .option('--json', 'print only the result, as JSON')
    .addOption(new Option('-p, --priority <level>', 'run priority').choices(['high', 'normal', 'low']).default('normal'))
    .option('--deadline <ms>', 'fail the run if it takes longer', positive)
    .option('--ops <module>', OPS)
    .option('--no-tokens', 'do not print tokens as they stream')
    .option('--store <url>', STORE)
    .option('--slo <file>', SLO)
    .option('--governance <file>', GOVERNANCE)
    .option('--audit <target>', 'write audit records of the run to a .jsonl file or a store database (a SQLite file or postgres://)')
    .option('--tenant <name>', 'who the run is for (governance rules match on it; usage is attributed to it)')
    .option('--user <name>', 'the user within the tenant')
    .option('--project <name>', 'the project the run\'s cost is attributed to')
    .action(async (file: string, opts) => {
      const { runCommand } = await import('./commands/run.ts');
      code = await runCommand(file, opts, io);
    });

  program.command('validate')
    .description('check a topology without running it')
    .argument('<topology>')
    .option('--ops <module>', OPS)
    .action(async (file: string, opts) => {
      const { validateCommand } = await import('./commands/validate.ts');
      code = await validateCommand(file, opts, io);
    });

  program.command('graph')
    .description('print the topology as a Mermaid or Graphviz DOT graph')
    .argument('<topology>')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'))
    .option('--ops <module>', OPS)
    .action(async (file: string, opts) => {
      const { graphCommand } = await import('./commands/graph.ts');
      code = await graphCommand(file, opts, io);
    });

  kafkaOptions(program.command('worker')
    .description('serve a topology from Kafka: consume run requests in a consumer group, publish results, tokens and events')
    .argument('<topology>')
    .option('-g, --group <name>', 'consumer group (default <prefix>-workers.<topology>, derived from the prefix and the topology)')
    .option('-n, --max-in-flight <n>', 'runs in flight at most', positiveInt, 16)
    .option('--worker-id <id>', 'this worker\'s id in results and logs (default <hostname>-<pid>)')
    .addOption(new Option('--offset-reset <where>', 'where a group without committed offsets starts').choices(['earliest', 'latest']))
    .option('--no-tokens', 'do not publish tokens and lifecycle events (results only)')
    .option('--health-port <port>', 'serve GET /healthz (200 up/degraded, 503 down, JSON report), GET /readyz and GET /metrics (Prometheus) on this port', port)
    .option('--exit-on-down-ms <ms>', 'stop and exit 1 when the health stays down this long (0: never; default 60 s: two broker restarts in a row can keep a consumer group down 25-30 s before it rejoins on its own)', nonNegativeInt, 60_000)
    .option('--store <url>', `${STORE}; unfinished runs are recovered on start, and a run is recorded under its request id, so a redelivered request resumes its run from the store (completed nodes are not run again) or gets its stored result again`)
    .option('--loop', "run a feedback loop: the topology's experiment assigns variants, the policies topic applies (all of it before the first request, then live), feedback steers bandits and detects regressions, evaluation requests and experience records are published (without it, the topology runs as written)")
    .option('--sample-rate <r>', 'with --loop: share of runs sent for evaluation, 0..1 (default 1; a policy\'s evaluation.sampleRate wins)', rate)
    .option('--seed <n>', 'with --loop: seed of the bandits and the evaluation sampling (default 1)', nonNegativeInt)
    .option('--slo <file>', SLO)
    .option('--governance <file>', `${GOVERNANCE}; later documents published with llmo policy apply (target governance) apply live`)
    .option('--audit <target>', 'write audit records of every run: kafka (the audit topic), a .jsonl file, or a store database (a SQLite file or postgres://)')
    .option('--ops <module>', OPS))
    .action(async (file: string, opts) => {
      const { workerCommand } = await import('./commands/worker.ts');
      code = await workerCommand(file, opts, io);
    });

  kafkaOptions(program.command('submit')
    .description('send run requests to a worker group over Kafka and print the results as JSON lines')
    .argument('<topologyName>', 'name of the topology the workers serve')
    .option('-i, --input <json|@file>', 'run input as JSON, or @path to a JSON file')
    .option('-c, --count <n>', 'send the same input this many times', positiveInt, 1)
    .option('-t, --timeout <ms>', 'give up waiting for results after this long (exit 1)', positiveInt, 60_000))
    .action(async (name: string, opts) => {
      const { submitCommand } = await import('./commands/submit.ts');
      code = await submitCommand(name, opts, io);
    });

  kafkaOptions(program.command('serve')
    .description('serve the HTTP API (/v1), its OpenAPI document and the live view of the topologies; runs execute in this process, or on a Kafka worker group with --brokers')
    .argument('<topology...>', 'the topologies (files) to serve')
    .option('-p, --port <port>', 'port to listen on (0: any free one)', port, 8787)
    .option('--host <host>', 'interface to listen on (0.0.0.0: every one)', '127.0.0.1')
    .option('--store <url>', `${STORE}; without it runs are kept in memory only`)
    .option('--keys <file|url>', 'where API keys are kept: a JSON file, a SQLite file or a postgres:// URL (default .llmo/keys.json; the first key is created and printed when there is none)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--governance <file>', GOVERNANCE)
    .option('--ops <module>', OPS))
    .action(async (files: string[], opts) => {
      const { serveCommand } = await import('./commands/serve.ts');
      code = await serveCommand(files, opts, io);
    });

  program.command('recover')
    .description('finish the runs a killed process left unfinished in a store, then exit')
    .argument('<topology...>', 'the topologies (files) whose runs may be resumed')
    .option('--store <url>', STORE)
    .option('--limit <n>', 'claim at most this many runs (default 1000)', positiveInt)
    .option('--json', 'print one JSON line per run')
    .option('--ops <module>', OPS)
    .option('--slo <file>', SLO)
    .action(async (files: string[], opts) => {
      const { recoverCommand } = await import('./commands/recover.ts');
      code = await recoverCommand(files, opts, io);
    });

  const runs = program.command('runs').description('read the runs recorded in a store');
  const storeFlags = (c: Command): Command => c.option('--store <url>', STORE).option('--json', 'print JSON (one line per run or event)');
  storeFlags(runs.command('ls').description('list runs, newest first')
    .option('--status <list>', 'only these statuses, comma-separated (running, waiting, completed, failed, cancelled)')
    .option('--topology <name>', 'only runs of this topology')
    .option('--limit <n>', 'at most this many (default 50)', positiveInt))
    .action(async (opts) => {
      const { runsCommand } = await import('./commands/runs.ts');
      code = await runsCommand('ls', undefined, opts, io);
    });
  storeFlags(runs.command('show').description("a run's record and its state (node statuses and outputs)").argument('<runId>'))
    .action(async (id: string, opts) => {
      const { runsCommand } = await import('./commands/runs.ts');
      code = await runsCommand('show', id, opts, io);
    });
  storeFlags(runs.command('history').description("a run's events in seq order").argument('<runId>'))
    .action(async (id: string, opts) => {
      const { runsCommand } = await import('./commands/runs.ts');
      code = await runsCommand('history', id, opts, io);
    });

  storeFlags(runs.command('state').description("a run's state (statuses, outputs, usage) at an event or a time (time travel)").argument('<runId>')
    .option('--seq <n>', 'as of this event seq (inclusive)', nonNegativeInt)
    .option('--at <time>', 'as of this ISO 8601 time (inclusive)'))
    .action(async (id: string, opts) => {
      const { runsStateCommand } = await import('./commands/runs-state.ts');
      code = await runsStateCommand(id, opts, io);
    });

  kafkaOptions(program.command('signal')
    .description('end the wait a parked run waits on: with --store, resume it here until it ends (or parks again), then exit; '
      + 'with --brokers, send a signal message (a worker with a store resumes the run and publishes its final result)')
    .argument('<runId>')
    .argument('<name>', 'the wait name')
    .argument('[topology...]', 'with --store: the topology files the run may have been recorded under')
    .option('--payload <json>', 'the payload, validated by the wait node schema (default null)')
    .option('--store <url>', STORE)
    .option('--json', 'print the result as JSON')
    .option('--ops <module>', OPS)
    .option('--request-id <id>', 'with --brokers: the request the resumed run answers (default the run id)')
    .option('--wait', 'with --brokers: wait for the final result (or the refusal) and print it as JSON')
    .option('-t, --timeout <ms>', 'with --wait: give up after this long (exit 1)', positiveInt, 60_000))
    .action(async (runId: string, name: string, files: string[], opts) => {
      const { signalCommand } = await import('./commands/signal.ts');
      code = await signalCommand(runId, name, files, opts, io);
    });

  const policy = program.command('policy').description("a deployment's policies on its compacted policies topic: show, apply, roll back");
  kafkaOptions(policy.command('show')
    .description('print the current policy version of each topology (or of one) as JSON, as the workers apply them')
    .argument('[topology]', 'only this policy target')
    .option('--history', 'every version still in the topic, not only the current ones'))
    .action(async (target: string | undefined, opts) => {
      const { policyCommand } = await import('./commands/policy.ts');
      code = await policyCommand('show', target, opts, io);
    });
  kafkaOptions(policy.command('apply')
    .description('validate a policy file and publish it as the next version (workers apply it live)')
    .argument('<file>', 'JSON or YAML: { target, document, version?, policyId?, reason? }')
    .option('--topology <file>', 'also check the document against this topology (node ids, llm nodes, variants)')
    .option('--ops <module>', OPS))
    .action(async (file: string, opts) => {
      const { policyCommand } = await import('./commands/policy.ts');
      code = await policyCommand('apply', file, opts, io);
    });
  kafkaOptions(policy.command('rollback')
    .description("publish an earlier version's document as a new version")
    .argument('<topology>', 'the policy target')
    .option('--to <version>', 'the version to go back to (default: the one before the current)', positiveInt)
    .option('--reason <text>', 'the reason published (default "rollback to vN")'))
    .action(async (target: string, opts) => {
      const { policyCommand } = await import('./commands/policy.ts');
      code = await policyCommand('rollback', target, opts, io);
    });

  const audit = program.command('audit').description('the tamper-evident audit log: verify its hash chains');
  kafkaOptions(audit.command('verify')
    .description('read every audit record (a JSONL file, or the audit topic from its beginning) and check each stream\'s hash chain: prints "ok: N records, M streams" (exit 0) or the first modified, missing or reordered record of each stream (exit 1)')
    .option('--file <path>', 'a JSONL audit file instead of the audit topic')
    .option('--store <url>', 'the audit records of a run store database (a SQLite file or postgres://) instead of the audit topic')
    .option('--json', 'print the verification as JSON'))
    .action(async (opts) => {
      const { auditCommand } = await import('./commands/audit.ts');
      code = await auditCommand('verify', opts, io);
    });

  kafkaOptions(program.command('evaluate')
    .description('an evaluator: consume the evaluation requests workers publish, run a judge topology on each, publish its score as feedback')
    .requiredOption('--judge <topology>', 'the judge topology file: its input is the request (input and output parsed), its output a score in [0,1] or { score, label?, comment? }')
    .option('-m, --metric <name>', 'the feedback metric the score is (default quality)')
    .option('-g, --group <name>', 'consumer group (default <prefix>-evaluators.<judge name>: evaluators of one judge share the work)')
    .option('-n, --max-in-flight <n>', 'judge runs at once (default 4)', positiveInt)
    .option('-c, --count <n>', 'stop after publishing this many verdicts', positiveInt)
    .option('--ops <module>', OPS)
    .option('--slo <file>', SLO))
    .action(async (opts) => {
      const { evaluateCommand } = await import('./commands/evaluate.ts');
      code = await evaluateCommand(opts, io);
    });

  const keys = program.command('keys').description('API keys of `llmo serve` (stored as hashes): create, list, revoke; a running server on the same store sees changes at once');
  const keysFlag = (c: Command): Command => c.option('--keys <file|url>', 'the key store: a JSON file, a .db file, sqlite:path or postgres://... (default LLMO_KEYS, else .llmo/keys.json in the working directory)');
  keysFlag(keys.command('create').description('create a key; prints its secret once on stdout')
    .requiredOption('--tenant <name>', 'the tenant the key acts for (it sees only its runs)')
    .addOption(new Option('--role <role>', 'its role on the topologies').choices(['viewer', 'operator', 'admin']).makeOptionMandatory())
    .option('--topology <name|glob>', 'topologies the role applies to (repeatable or comma-separated; default every topology, *)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--name <name>', 'who or what the key is for (runs started with it record it as their user)')
    .option('--json', 'print the created key (with its secret) as JSON'))
    .action(async (opts) => {
      const { keysCommand } = await import('./commands/keys.ts');
      code = await keysCommand('create', undefined, opts, io);
    });
  keysFlag(keys.command('list').description('list keys (never their secrets)')
    .option('--tenant <name>', 'only keys of this tenant')
    .option('--json', 'print one JSON line per key'))
    .action(async (opts) => {
      const { keysCommand } = await import('./commands/keys.ts');
      code = await keysCommand('list', undefined, opts, io);
    });
  keysFlag(keys.command('revoke').description('revoke a key; it stops working at the next request').argument('<keyId>')
    .option('--tenant <name>', 'only if the key is of this tenant'))
    .action(async (keyId: string, opts) => {
      const { keysCommand } = await import('./commands/keys.ts');
      code = await keysCommand('revoke', keyId, opts, io);
    });

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
