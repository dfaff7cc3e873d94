#!/usr/bin/env node
// Entry of the `llmo` CLI: the compiled CLI in dist/ (`npm run build`). Nothing is registered here;
// TypeScript topologies get tsx (or Node's own type stripping) only when one is loaded.
import module from 'node:module';

// Node >= 22.1 caches compiled code on disk (in the OS temp directory): later starts skip parsing.
module.enableCompileCache?.();
// `llmo ... | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e?.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
let cli;
try {
  cli = await import('../dist/src/cli/main.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('/dist/src/cli/main.js')) {
    process.stderr.write('llmo: the CLI is not built (no dist/src/cli/main.js): run `npm run build` in the llm-orchestrator package\n');
    process.exit(2);
  }
  throw e;
}
process.exitCode = await cli.main(process.argv.slice(2));
