// The closing line of test/support/summary-reporter.ts counts what vitest counts as failures: a failing
// beforeAll/afterAll, a module that throws while collected and unhandled errors, not only failed tests;
// expected fails count as passed and are named on their own line. Runs vitest in a child process on the
// fixture project test/fixtures-reporter/ (its own config, root and include: none of the repo's tests).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = path.join('test', 'fixtures-reporter', 'vitest.config.ts');
const VITEST = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** Runs the fixture project (optionally only the files matching `filters`); resolves with its exit code and stdout. */
function runFixture(...filters: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The child must not think it runs inside this vitest worker.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VITEST|TEST$|NODE_OPTIONS$|FORCE_COLOR$)/.test(k)));
  const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG, ...filters], {
    cwd: REPO, env: { ...env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastLines = (out: string, n: number): string[] => out.trimEnd().split('\n').slice(-n);
/** The '; '-separated entries of a summary line, sorted (undefined when the line does not match). */
const listed = (line: string, pattern: RegExp): string[] | undefined => pattern.exec(line)?.[1]!.split('; ').sort();

describe('summary reporter', () => {
  it('counts hook, collection and unhandled failures as failed; tests under a failed beforeAll as skipped', async () => {
    const r = await runFixture();
    const context = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    expect(r.code, context).toBe(1);
    // hooks.spec.ts: 1 failed test, a failing beforeAll (its 2 tests skipped), a failing afterAll (its test passed),
    //   1 passed test, 1 expected fail (passed), 1 skip, 1 todo;
    // collect.spec.ts: throws while collected; unhandled.spec.ts: 1 passed test + 1 unhandled rejection;
    // clean.spec.ts: 1 passed test + 1 expected fail.
    const [outside, expectedFail, closing] = lastLines(r.stdout, 3);
    expect(closing, context).toBe('vitest: 6 passed, 5 failed, 4 skipped');
    // The order of the modules is the sequencer's: compare the named entries as sets.
    expect(listed(expectedFail!, /^\(of which 2 expected fail: (.*)\)$/), context)
      .toEqual(['clean.spec.ts > is expected to fail', 'hooks.spec.ts > is expected to fail']);
    expect(listed(outside!, /^\(4 failed outside tests: (.*)\)$/), context).toEqual([
      'collect.spec.ts: collection fails on purpose',
      'hooks.spec.ts > setup fails: beforeAll fails on purpose',
      'hooks.spec.ts > teardown fails: afterAll fails on purpose',
      'unhandled error: unhandled on purpose',
    ]);
  });

  it('prints a green line, with the expected fail counted as passed and named, when nothing failed', async () => {
    const r = await runFixture('clean.spec.ts');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lastLines(r.stdout, 2)).toEqual([
      '(of which 1 expected fail: clean.spec.ts > is expected to fail)',
      'vitest: 2 passed, 0 failed, 0 skipped',
    ]);
  });
});
