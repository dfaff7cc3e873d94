/**
 * The `llmo` commands that serve topologies and send them runs: `worker` (a Kafka
 * consumer group), `submit` (run requests to that group) and `serve` (the HTTP API
 * and live view). Declarations only (commander); each command's code lives in
 * `commands/<name>.ts` and is imported when that command runs.
 * @module
 */
import { Option, type Command } from 'commander';
import type { Io } from './io.ts';
import { nonNegativeInt, perWindow, port, positiveInt, rate, trustProxy } from './option-values.ts';
import { EXIT_ON_DOWN, GOVERNANCE, HEALTH_PORT, kafkaOptions, OPS, SLO, STORE } from './shared-options.ts';

/**
 * Declares `worker`, `submit` and `serve` on `program`; the command that runs hands its exit code to `done`.
 *
 * @example
 * ```ts
 * let code: number = EXIT.ok;
 * declareServingCommands(program, io, (c) => { code = c; });
 * ```
 */
export function declareServingCommands(program: Command, io: Io, done: (code: number) => void): void {
  kafkaOptions(program.command('worker')
    .description('serve a topology from Kafka: consume run requests in a consumer group, publish results, tokens and events')
    .argument('<topology>')
    .option('-g, --group <name>', 'consumer group (default <prefix>-workers.<topology>, derived from the prefix and the topology)')
    .option('-n, --max-in-flight <n>', 'runs in flight at most', positiveInt, 16)
    .option('--worker-id <id>', 'this worker\'s id in results and logs (default <hostname>-<pid>)')
    .addOption(new Option('--offset-reset <where>', 'where a group without committed offsets starts').choices(['earliest', 'latest']))
    .option('--no-tokens', 'do not publish tokens and lifecycle events (results only)')
    .option('--health-port <port>', HEALTH_PORT, port)
    .option('--exit-on-down-ms <ms>', EXIT_ON_DOWN, nonNegativeInt, 60_000)
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
      done(await workerCommand(file, opts, io));
    });

  kafkaOptions(program.command('submit')
    .description('send run requests to a worker group over Kafka and print the results as JSON lines')
    .argument('<topologyName>', 'name of the topology the workers serve')
    .option('-i, --input <json|@file>', 'run input as JSON, or @path to a JSON file')
    .option('-c, --count <n>', 'send the same input this many times', positiveInt, 1)
    .option('-t, --timeout <ms>', 'give up waiting for results after this long (exit 1)', positiveInt, 60_000)
    .addOption(new Option('-p, --priority <level>', 'run priority').choices(['high', 'normal', 'low']).default('normal'))
    .option('--deadline <ms>', 'fail each run if it takes longer (from when a worker starts it)', positiveInt)
    .option('--tenant <name>', 'who the runs are for (governance rules match on it; usage is attributed to it)')
    .option('--user <name>', 'the user within the tenant'))
    .action(async (name: string, opts) => {
      const { submitCommand } = await import('./commands/submit.ts');
      done(await submitCommand(name, opts, io));
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
    .option('--rate-limit <max[/window]>', 'requests per API key at most, per minute or per window (1200/60s, 100/1m, 5000/1h); more get 429 (default 1200/60s)', perWindow)
    .option('--failed-auth-limit <max[/window]>', 'failed authentications per client address at most (default 60/60s); more get 429 before any key is checked', perWindow)
    .option('--trust-proxy <hops|addresses>', 'proxies in front of the server whose X-Forwarded-For names the client (the failed-authentication limit counts by it): true, a number of hops, or addresses and CIDR ranges, comma-separated', trustProxy)
    .option('--cors-origin <origins>', 'browser origins whose pages may call the API (CORS), comma-separated (https://app.example.com), or * for any (default none)', (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x !== ''))
    .option('--governance <file>', GOVERNANCE)
    .option('--ops <module>', OPS))
    .action(async (files: string[], opts) => {
      const { serveCommand } = await import('./commands/serve.ts');
      done(await serveCommand(files, opts, io));
    });
}
