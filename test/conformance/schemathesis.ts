/**
 * Running Schemathesis (PyPI) against a served API: where `st` is, the configuration both API
 * conformance tests share, and a run of it.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `st`: LLMO_SCHEMATHESIS, else where scripts/schemathesis-local.sh installs it. */
export const ST = process.env['LLMO_SCHEMATHESIS'] ?? join(homedir(), '.cache/llmo/schemathesis-4.32.5/bin/st');

/** Whether `st` is there. */
export const haveSchemathesis = existsSync(ST);

/** What the served API holds for the operations on one run. */
export interface SchemathesisData {
  /** A run for the operations on one run (cancel, signal, fork, events, state). */
  readonly runId: string;
  /** A run that ended: its stream replays and closes. */
  readonly endedRunId: string;
  /** The signal name the operations on a run send. */
  readonly signal: string;
  /** A key the revocation pass may revoke. */
  readonly spareKeyId: string;
}

/**
 * Writes `schemathesis.toml` into `dir`. Where a request's validity depends on data the public
 * document does not carry (a topology's input schema, the run's node ids, a wait node's payload
 * schema), a 400 naming the field is the right answer, so it is expected there.
 */
export function writeSchemathesisConfig(dir: string, d: SchemathesisData): void {
  writeFileSync(join(dir, 'schemathesis.toml'), `
[parameters]
id = "${d.runId}"
name = "${d.signal}"
keyId = "${d.spareKeyId}"

[[operations]]
include-name = ["POST /v1/runs", "POST /v1/runs/{id}/fork", "POST /v1/runs/{id}/signals/{name}"]
checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 404, 409]

# a run that ended: its stream replays the log and closes (each event checked against the document)
[[operations]]
include-name = "GET /v1/runs/{id}/stream"
parameters = { id = "${d.endedRunId}" }
`);
}

/** The options of every run: all checks, a fixed seed, deterministic generation, the key. */
export const schemathesisArgs = (key: string, examples: number): string[] => [
  '--checks', 'all', '--seed', '1', '--generation-deterministic',
  '--max-examples', String(examples), '--request-timeout', '30', '--no-color', '-H', `Authorization: Bearer ${key}`,
];

/** Runs `st` with `args` in `cwd` (where its configuration is); resolves with its exit code and output. */
export function schemathesis(args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(ST, args, { cwd, env: { ...process.env, NO_COLOR: '1', COLUMNS: '160' } });
    let output = '';
    child.stdout.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { output += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The end of st's report: its failures and summary, enough to read why a run failed. */
export const reportTail = (output: string): string => output.slice(-6000);
