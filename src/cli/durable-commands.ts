/**
 * The `llmo` commands on durable runs, the runs recorded in a run store: `recover`
 * (finish what a killed process left), `runs ls|show|history|state` (read them), `runs prune` (retention),
 * `signal` (end the wait a parked run waits on, here or through Kafka) and `cancel` (a stored
 * run, parked or left by a killed process). Declarations
 * only (commander); each command's code lives in `commands/<name>.ts` and is
 * imported when that command runs.
 * @module
 */
import type { Command } from 'commander';
import type { Io } from './io.ts';
import { nonNegativeInt, positiveInt } from './option-values.ts';
import { AUDIT, GOVERNANCE, kafkaOptions, OPS, SLO, STORE } from './shared-options.ts';

/**
 * Declares `recover`, `runs` (with `ls`, `show`, `history`, `prune`, `state`), `signal` and `cancel` on `program`;
 * the command that runs hands its exit code to `done`.
 *
 * @example
 * ```ts
 * let code: number = EXIT.ok;
 * declareDurableCommands(program, io, (c) => { code = c; });
 * ```
 */
export function declareDurableCommands(program: Command, io: Io, done: (code: number) => void): void {
  program.command('recover')
    .description('finish the runs a killed process left unfinished in a store, then exit')
    .argument('<topology...>', 'the topologies (files) whose runs may be resumed')
    .option('--store <url>', STORE)
    .option('--limit <n>', 'claim at most this many runs (default 1000)', positiveInt)
    .option('--json', 'print one JSON line per run')
    .option('--ops <module>', OPS)
    .option('--slo <file>', SLO)
    .option('--governance <file>', `${GOVERNANCE} (give the runs' own: a store does not record it)`)
    .option('--audit <target>', AUDIT)
    .action(async (files: string[], opts) => {
      const { recoverCommand } = await import('./commands/recover.ts');
      done(await recoverCommand(files, opts, io));
    });

  const runs = program.command('runs').description('read the runs recorded in a store');
  const storeFlags = (c: Command): Command => c.option('--store <url>', STORE).option('--json', 'print JSON (one line per run or event)');
  storeFlags(runs.command('ls').description('list runs, newest first')
    .option('--status <list>', 'only these statuses, comma-separated (running, waiting, completed, failed, cancelled)')
    .option('--topology <name>', 'only runs of this topology')
    .option('--tenant <name>', 'only runs of this tenant')
    .option('--limit <n>', 'at most this many (default 50, at most 1000)', positiveInt)
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed'))
    .action(async (opts) => {
      const { runsCommand } = await import('./commands/runs.ts');
      done(await runsCommand('ls', undefined, opts, io));
    });
  storeFlags(runs.command('show').description("a run's record and its state (node statuses and outputs)").argument('<runId>'))
    .action(async (id: string, opts) => {
      const { runsCommand } = await import('./commands/runs.ts');
      done(await runsCommand('show', id, opts, io));
    });
  storeFlags(runs.command('history').description("a run's events in seq order").argument('<runId>'))
    .action(async (id: string, opts) => {
      const { runsCommand } = await import('./commands/runs.ts');
      done(await runsCommand('history', id, opts, io));
    });

  storeFlags(runs.command('prune').description('retention: delete the runs that ended before a cut-off, with their logs (running and parked runs are never touched)')
    .requiredOption('--ended-before <age|time>', 'an age (30d, 12h, 90m, 45s, 500ms, 2w) or an ISO 8601 time')
    .option('--status <list>', 'only these ended statuses, comma-separated (default completed,failed,cancelled)'))
    .action(async (opts) => {
      const { pruneCommand } = await import('./commands/runs-prune.ts');
      done(await pruneCommand(opts, io));
    });

  storeFlags(runs.command('state').description("a run's state (statuses, outputs, usage) at an event or a time (time travel)").argument('<runId>')
    .option('--seq <n>', 'as of this event seq (inclusive)', nonNegativeInt)
    .option('--at <time>', 'as of this ISO 8601 time (inclusive)'))
    .action(async (id: string, opts) => {
      const { runsStateCommand } = await import('./commands/runs-state.ts');
      done(await runsStateCommand(id, opts, io));
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
    .option('--governance <file>', `with --store: ${GOVERNANCE} (give the run's own: a store does not record it)`)
    .option('--audit <target>', `with --store: ${AUDIT}`)
    .option('--request-id <id>', 'with --brokers: the request the resumed run answers (default the run id)')
    .option('--wait', 'with --brokers: wait for the final result (or the refusal) and print it as JSON')
    .option('-t, --timeout <ms>', 'with --wait: give up after this long (exit 1)', positiveInt, 60_000))
    .action(async (runId: string, name: string, files: string[], opts) => {
      const { signalCommand } = await import('./commands/signal.ts');
      done(await signalCommand(runId, name, files, opts, io));
    });

  program.command('cancel')
    .description('cancel a run recorded in a store: a parked one (from any process), one a killed process left running, '
      + 'or one another live process runs (it cancels the run at its next lease renewal)')
    .argument('<runId>')
    .argument('<topology...>', 'the topology files the run may have been recorded under')
    .option('--store <url>', STORE)
    .option('--reason <text>', 'why: recorded in the run\'s error message')
    .option('--json', 'print the result as JSON')
    .option('--ops <module>', OPS)
    .option('--audit <target>', AUDIT)
    .option('--wait', 'a run another process holds: wait until it has ended, and print how')
    .option('-t, --timeout <ms>', 'with --wait: give up after this long (exit 1)', positiveInt, 60_000)
    .action(async (runId: string, files: string[], opts) => {
      const { cancelCommand } = await import('./commands/cancel.ts');
      done(await cancelCommand(runId, files, opts, io));
    });
}
