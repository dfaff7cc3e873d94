#!/usr/bin/env node
// Entry of the `llmo` CLI. tsx lets it load TypeScript topologies directly.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
