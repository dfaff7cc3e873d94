// Prints one plain closing line that any CI can read: "vitest: N passed, N failed, N skipped".
//
// What counts:
// - passed: tests that passed, including expected fails (`it.fails` whose body failed), which are also
//   listed on a line of their own before the closing line: "(of which N expected fail: <names>)";
// - failed: tests that failed, plus every module or suite with errors of its own (a module that throws
//   while it is collected, a failing beforeAll/afterAll: one each), plus every unhandled error; and when
//   vitest still ends the run as failed or interrupted with none of those, the run itself counts once;
// - skipped: skipped and todo tests, and tests that never finished (those inside a suite whose beforeAll
//   failed, or left over when the run was interrupted).
// The failures outside tests are named on a line before the closing line too.
import type { Reporter, SerializedError, TestCase, TestModule, TestRunEndReason } from 'vitest/node';

/** The closing line's counts and the names behind the extra ones. */
export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  /** Names of the passed tests that are expected fails. */
  readonly expectedFail: string[];
  /** Failures outside tests: modules, suites (hooks), unhandled errors, the run. */
  readonly outsideTests: string[];
}

const firstLine = (e: SerializedError | undefined): string => (e?.message ?? 'unknown error').split('\n')[0]!.trim();

function label(m: TestModule): string {
  return m.project.name === '' ? m.relativeModuleId : `[${m.project.name}] ${m.relativeModuleId}`;
}

/** Counts a finished run (exported for the reporter's own test). */
export function summarize(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): Summary {
  const s: Summary = { passed: 0, failed: 0, skipped: 0, expectedFail: [], outsideTests: [] };
  const countTest = (m: TestModule, t: TestCase): void => {
    const state = t.result().state;
    if (state === 'passed') {
      s.passed++;
      if (t.options.fails === true) s.expectedFail.push(`${label(m)} > ${t.fullName}`);
    } else if (state === 'failed') s.failed++;
    else s.skipped++; // skipped, todo, or never finished (pending)
  };
  const countOwnErrors = (what: string, errors: readonly SerializedError[]): void => {
    if (errors.length === 0) return;
    s.failed++;
    s.outsideTests.push(`${what}: ${firstLine(errors[0])}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ''}`);
  };
  for (const m of modules) {
    countOwnErrors(label(m), m.errors());
    for (const suite of m.children.allSuites()) countOwnErrors(`${label(m)} > ${suite.fullName}`, suite.errors());
    for (const t of m.children.allTests()) countTest(m, t);
  }
  for (const e of unhandledErrors) {
    s.failed++;
    s.outsideTests.push(`unhandled error: ${firstLine(e)}`);
  }
  if (reason !== 'passed' && s.failed === 0) {
    s.failed++;
    s.outsideTests.push(`the run ended as ${reason}`);
  }
  return s;
}

/** The lines printed at the end of a run; the last one is the closing line. */
export function summaryLines(s: Summary): string[] {
  const lines: string[] = [];
  if (s.outsideTests.length > 0) lines.push(`(${s.outsideTests.length} failed outside tests: ${s.outsideTests.join('; ')})`);
  if (s.expectedFail.length > 0) lines.push(`(of which ${s.expectedFail.length} expected fail: ${s.expectedFail.join('; ')})`);
  lines.push(`vitest: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  return lines;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    process.stdout.write(`\n${summaryLines(summarize(modules, unhandledErrors, reason)).join('\n')}\n`);
  }
}
