/**
 * The `llmo` commands that operate a deployment around its workers and server:
 * `policy show|apply|rollback` (the policies topic), `audit verify` (the audit
 * log's hash chains), `evaluate` (an evaluator scoring runs as feedback) and
 * `keys create|list|revoke` (the API keys of `llmo serve`). Declarations only
 * (commander); each command's code lives in `commands/<name>.ts` and is imported
 * when that command runs.
 * @module
 */
import { Option, type Command } from 'commander';
import type { Io } from './io.ts';
import { nonNegativeInt, port, positiveInt } from './option-values.ts';
import { EXIT_ON_DOWN, HEALTH_PORT, kafkaOptions, OPS, SLO } from './shared-options.ts';

/**
 * Declares `policy`, `audit`, `evaluate` and `keys` (with their subcommands) on `program`;
 * the command that runs hands its exit code to `done`.
 *
 * @example
 * ```ts
 * let code: number = EXIT.ok;
 * declareDeploymentCommands(program, io, (c) => { code = c; });
 * ```
 */
export function declareDeploymentCommands(program: Command, io: Io, done: (code: number) => void): void {
  const policy = program.command('policy').description("a deployment's policies on its compacted policies topic: show, apply, roll back");
  kafkaOptions(policy.command('show')
    .description('print the current policy version of each topology (or of one) as JSON, as the workers apply them')
    .argument('[topology]', 'only this policy target')
    .option('--history', 'every version still in the topic, not only the current ones'))
    .action(async (target: string | undefined, opts) => {
      const { policyCommand } = await import('./commands/policy.ts');
      done(await policyCommand('show', target, opts, io));
    });
  kafkaOptions(policy.command('apply')
    .description('validate a policy file and publish it as the next version (workers apply it live)')
    .argument('<file>', 'JSON or YAML: { target, document, version?, policyId?, reason? }')
    .option('--topology <file>', 'also check the document against this topology (node ids, llm nodes, variants)')
    .option('--ops <module>', OPS))
    .action(async (file: string, opts) => {
      const { policyCommand } = await import('./commands/policy.ts');
      done(await policyCommand('apply', file, opts, io));
    });
  kafkaOptions(policy.command('rollback')
    .description("publish an earlier version's document as a new version")
    .argument('<topology>', 'the policy target')
    .option('--to <version>', 'the version to go back to (default: the one before the current)', positiveInt)
    .option('--reason <text>', 'the reason published (default "rollback to vN")'))
    .action(async (target: string, opts) => {
      const { policyCommand } = await import('./commands/policy.ts');
      done(await policyCommand('rollback', target, opts, io));
    });

  const audit = program.command('audit').description('the tamper-evident audit log: verify its hash chains');
  kafkaOptions(audit.command('verify')
    .description('read every audit record (a JSONL file, or the audit topic from its beginning) and check each stream\'s hash chain: prints "ok: N records, M streams" (exit 0) or the first modified, missing or reordered record of each stream (exit 1)')
    .option('--file <path>', 'a JSONL audit file instead of the audit topic')
    .option('--store <url>', 'the audit records of a run store database (a SQLite file or postgres://) instead of the audit topic')
    .option('--json', 'print the verification as JSON'))
    .action(async (opts) => {
      const { auditCommand } = await import('./commands/audit.ts');
      done(await auditCommand('verify', opts, io));
    });

  kafkaOptions(program.command('evaluate')
    .description('an evaluator: consume the evaluation requests workers publish, run a judge topology on each, publish its score as feedback')
    .requiredOption('--judge <topology>', 'the judge topology file: its input is the request (input and output parsed), its output a score in [0,1] or { score, label?, comment? }')
    .option('-m, --metric <name>', 'the feedback metric the score is (default quality)')
    .option('-g, --group <name>', 'consumer group (default <prefix>-evaluators.<judge name>: evaluators of one judge share the work)')
    .option('-n, --max-in-flight <n>', 'judge runs at once (default 4)', positiveInt)
    .option('-c, --count <n>', 'stop after publishing this many verdicts', positiveInt)
    .option('--ops <module>', OPS)
    .option('--slo <file>', SLO)
    .option('--health-port <port>', HEALTH_PORT, port)
    .option('--exit-on-down-ms <ms>', EXIT_ON_DOWN, nonNegativeInt, 60_000))
    .action(async (opts) => {
      const { evaluateCommand } = await import('./commands/evaluate.ts');
      done(await evaluateCommand(opts, io));
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
      done(await keysCommand('create', undefined, opts, io));
    });
  keysFlag(keys.command('list').description('list keys (never their secrets)')
    .option('--tenant <name>', 'only keys of this tenant')
    .option('--json', 'print one JSON line per key'))
    .action(async (opts) => {
      const { keysCommand } = await import('./commands/keys.ts');
      done(await keysCommand('list', undefined, opts, io));
    });
  keysFlag(keys.command('revoke').description('revoke a key; it stops working at the next request').argument('<keyId>')
    .option('--tenant <name>', 'only if the key is of this tenant'))
    .action(async (keyId: string, opts) => {
      const { keysCommand } = await import('./commands/keys.ts');
      done(await keysCommand('revoke', keyId, opts, io));
    });
}
