/**
 * The `llmo` commands that work on one topology file in this process: `run`,
 * `validate` and `graph`. Declarations only (commander); each command's code lives
 * in `commands/<name>.ts` and is imported when that command runs.
 * @module
 */
import { Option, type Command } from 'commander';
import type { Io } from './io.ts';
import { positive } from './option-values.ts';
import { AUDIT, GOVERNANCE, OPS, SLO, STORE } from './shared-options.ts';

/**
 * Declares `run`, `validate` and `graph` on `program`; the command that runs hands its exit code to `done`.
 *
 * @example
 * ```ts
 * let code: number = EXIT.ok;
 * declareLocalCommands(program, io, (c) => { code = c; });
 * ```
 */
export function declareLocalCommands(program: Command, io: Io, done: (code: number) => void): void {
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
    .option('--audit <target>', AUDIT)
    .option('--tenant <name>', 'who the run is for (governance rules match on it; usage is attributed to it)')
    .option('--user <name>', 'the user within the tenant')
    .option('--project <name>', 'the project the run\'s cost is attributed to')
    .action(async (file: string, opts) => {
      const { runCommand } = await import('./commands/run.ts');
      done(await runCommand(file, opts, io));
    });

  program.command('validate')
    .description('check a topology without running it')
    .argument('<topology>')
    .option('--ops <module>', OPS)
    .action(async (file: string, opts) => {
      const { validateCommand } = await import('./commands/validate.ts');
      done(await validateCommand(file, opts, io));
    });

  program.command('graph')
    .description('print the topology as a Mermaid or Graphviz DOT graph')
    .argument('<topology>')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'))
    .option('--ops <module>', OPS)
    .action(async (file: string, opts) => {
      const { graphCommand } = await import('./commands/graph.ts');
      done(await graphCommand(file, opts, io));
    });
}
