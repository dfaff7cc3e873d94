/**
 * `llmo`: run, validate and draw topologies. This is the one place that reads
 * the process environment, arguments and files on behalf of the library.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatIssues, serializeError, type Issue } from '../errors.ts';
import { renderGraph } from '../compiler/render.ts';
import { createEngine } from '../runtime/engine.ts';
import type { Priority } from '../definition/types.ts';
import { loadForCli } from './load.ts';
import { printProgress } from './progress.ts';
import { modelsFromEnv } from './env.ts';
import { pino } from 'pino';
import { createKafkaTransport } from '../transports/kafka/index.ts';
import { createWorker } from '../worker/worker.ts';
import { createClient } from '../worker/client.ts';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, runFailed: 1, invalid: 2, cancelled: 130 } as const;

interface Io {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly color: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

function reportIssues(io: Io, file: string, issues: readonly Issue[]): number {
  io.err.write(`${file} is invalid:\n${formatIssues(issues)}\n`);
  return EXIT.invalid;
}

async function readInput(raw: string | undefined): Promise<unknown> {
  if (raw === undefined) return {};
  const text = raw.startsWith('@') ? await readFile(raw.slice(1), 'utf8') : raw;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`--input is not valid JSON: ${(e as Error).message}`);
  }
}

const positive = (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
};

/**
 * Runs the CLI with `argv` (without the node and script entries); resolves with the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['validate', 'topologies/rag.ts']);
 * ```
 */
export async function main(argv: readonly string[], io: Io = { out: process.stdout, err: process.stderr, color: Boolean(process.stderr.isTTY) }): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('llmo')
    .description('llm-orchestrator: multi-model LLM pipelines as backpressure-aware stream topologies')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });

  program.command('run')
    .description('run a topology once and show node progress as it happens')
    .argument('<topology>', 'a .ts/.js module exporting a topology, or a .json/.yaml document')
    .option('-i, --input <json|@file>', 'run input as JSON, or @path to a JSON file')
    .option('--json', 'print only the result, as JSON')
    .addOption(new Option('-p, --priority <level>', 'run priority').choices(['high', 'normal', 'low']).default('normal'))
    .option('--deadline <ms>', 'fail the run if it takes longer', positive)
    .option('--ops <module>', 'operator registry for JSON/YAML topologies')
    .option('--no-tokens', 'do not print tokens as they stream')
    .action(async (file: string, opts: { input?: string; json?: boolean; priority: Priority; deadline?: number; ops?: string; tokens: boolean }) => {
      const loaded = await loadForCli(file, opts.ops);
      if (!loaded.ok) { code = reportIssues(io, file, loaded.issues); return; }
      const input = await readInput(opts.input);
      const env = modelsFromEnv(io.env ?? process.env);
      const engine = createEngine({ models: env.models, ...loaded.engineOptions });
      const controller = new AbortController();
      const onSigint = (): void => controller.abort(new Error('interrupted (SIGINT)'));
      process.once('SIGINT', onSigint);
      const runId = `cli-${Date.now().toString(36)}`;
      const t = loaded.topology;
      if (!opts.json) {
        io.err.write(`▶ ${t.name}${t.description ? ` — ${t.description}` : ''}\n`);
        if (t.nodes.some((n) => n.kind === 'llm')) {
          io.err.write(`  model 'default' = ${env.defaultModel}${env.simulated ? ' (SIMULATED: set OPENAI_API_KEY, OPENAI_BASE_URL or ANTHROPIC_API_KEY for a real model)' : ''}\n`);
        }
      }
      const progress = opts.json ? undefined : printProgress(engine.events$, runId, io.err, io.color, opts.tokens);
      const result = await engine.run(t, input, {
        signal: controller.signal, priority: opts.priority, runId,
        ...(opts.deadline === undefined ? {} : { deadlineMs: opts.deadline }),
      });
      progress?.unsubscribe();
      process.removeListener('SIGINT', onSigint);
      await engine.shutdown({ mode: 'cancel' });
      if (opts.json) {
        io.out.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        const ms = result.endedAt - result.startedAt;
        if (result.status === 'completed') {
          const u = result.usage;
          io.err.write(`✓ completed in ${ms} ms${u.calls > 0 ? ` · ${u.calls} model calls · ${u.inputTokens} in / ${u.outputTokens} out tokens · $${u.costUsd.toFixed(6)}` : ''}\n`);
          io.out.write(`${typeof result.output === 'string' ? result.output : JSON.stringify(result.output ?? result.outputs, null, 2)}\n`);
        } else {
          io.err.write(`✗ ${result.status} after ${ms} ms: ${result.error.message}\n`);
          const e = serializeError(result.error);
          if (e.issues) io.err.write(`${formatIssues(e.issues)}\n`);
          io.err.write(`  completed nodes: ${Object.keys(result.outputs).join(', ') || 'none'}\n`);
        }
      }
      code = result.status === 'completed' ? EXIT.ok : result.status === 'cancelled' ? EXIT.cancelled : EXIT.runFailed;
    });

  program.command('validate')
    .description('check a topology without running it')
    .argument('<topology>')
    .option('--ops <module>', 'operator registry for JSON/YAML topologies')
    .action(async (file: string, opts: { ops?: string }) => {
      const loaded = await loadForCli(file, opts.ops);
      if (!loaded.ok) { code = reportIssues(io, file, loaded.issues); return; }
      try {
        createEngine({ models: modelsFromEnv(io.env ?? process.env).models, ...loaded.engineOptions }).compile(loaded.topology);
      } catch (e) {
        const s = serializeError(e);
        code = reportIssues(io, file, s.issues ?? [{ code: s.code, path: [], message: s.message }]);
        return;
      }
      io.out.write(`${file}: topology '${loaded.topology.name}' is valid (${loaded.topology.nodes.length} nodes)\n`);
    });

  program.command('graph')
    .description('print the topology as a Mermaid or Graphviz DOT graph')
    .argument('<topology>')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'))
    .option('--ops <module>', 'operator registry for JSON/YAML topologies')
    .action(async (file: string, opts: { format: 'mermaid' | 'dot'; ops?: string }) => {
      const loaded = await loadForCli(file, opts.ops);
      if (!loaded.ok) { code = reportIssues(io, file, loaded.issues); return; }
      io.out.write(renderGraph(loaded.topology, opts.format));
    });

  const positiveInt = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
    return n;
  };

  program.command('worker')
    .description('serve a topology from Kafka: consume run requests in a consumer group, publish results, tokens and events')
    .argument('<topology>')
    .requiredOption('-b, --brokers <list>', 'Kafka bootstrap brokers, comma-separated')
    .option('-g, --group <name>', 'consumer group', 'llmo-workers')
    .option('--prefix <prefix>', 'topic name prefix', 'llmo')
    .option('-n, --max-in-flight <n>', 'runs in flight at most', positiveInt, 16)
    .option('--partitions <n>', 'partitions of topics this worker creates', positiveInt, 6)
    .option('--ops <module>', 'operator registry for JSON/YAML topologies')
    .action(async (file: string, opts: { brokers: string; group: string; prefix: string; maxInFlight: number; partitions: number; ops?: string }) => {
      const loaded = await loadForCli(file, opts.ops);
      if (!loaded.ok) { code = reportIssues(io, file, loaded.issues); return; }
      const logger = pino({ level: (io.env ?? process.env)['LOG_LEVEL'] ?? 'info' }, process.stderr);
      const env = modelsFromEnv(io.env ?? process.env);
      const engine = createEngine({ models: env.models, logger, ...loaded.engineOptions });
      const transport = createKafkaTransport({ brokers: opts.brokers.split(','), prefix: opts.prefix, partitions: opts.partitions, logger, clientId: 'llmo-worker' });
      const worker = createWorker({ engine, transport, topologies: [loaded.topology], group: opts.group, maxInFlight: opts.maxInFlight, logger });
      await worker.start();
      io.err.write(`worker ${worker.id} serving '${loaded.topology.name}' in group '${opts.group}' (max ${opts.maxInFlight} in flight); Ctrl-C to stop\n`);
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
    });

  program.command('submit')
    .description('send run requests to a worker group over Kafka and print the results')
    .argument('<topologyName>', 'name of the topology the workers serve')
    .requiredOption('-b, --brokers <list>', 'Kafka bootstrap brokers, comma-separated')
    .option('-i, --input <json|@file>', 'run input as JSON, or @path to a JSON file')
    .option('--prefix <prefix>', 'topic name prefix', 'llmo')
    .option('-c, --count <n>', 'send the same input this many times', positiveInt, 1)
    .action(async (name: string, opts: { brokers: string; input?: string; prefix: string; count: number }) => {
      const input = await readInput(opts.input);
      const transport = createKafkaTransport({ brokers: opts.brokers.split(','), prefix: opts.prefix, clientId: 'llmo-submit' });
      const client = createClient(transport);
      const results = await Promise.all(Array.from({ length: opts.count }, () => client.submit(name, input)));
      for (const r of results) io.out.write(`${JSON.stringify({ ...r, output: r.output === null ? null : JSON.parse(r.output) as unknown, outputs: undefined })}\n`);
      await client.close();
      await transport.close();
      code = results.every((r) => r.status === 'completed') ? EXIT.ok : EXIT.runFailed;
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) return EXIT.invalid;
    io.err.write(`llmo: ${err.message ?? String(e)}\n`);
    return EXIT.invalid;
  }
  return code;
}
