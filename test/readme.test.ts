// Every ```ts block of README.md is a complete program, type-checked with the project's own compiler
// options and run. A block whose first line is `// readme: compile-only` (it needs a service or API keys)
// is type-checked but not run; no block may opt out of the type check.
//
// The blocks are written to a temp directory inside the repo (.tmp/, git-ignored) so that
// `llm-orchestrator` resolves as it does for the repo's own files: tsc through the package's exports
// and the `llmo-source` condition of tsconfig.json, the run through vitest's package aliases.
// The runs use the simulated provider only: the provider and broker variables are unset while they
// run and `fetch` throws, so a snippet that reaches for the network fails here.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const README = path.join(REPO, 'README.md');
const COMPILE_ONLY = /^\/\/\s*readme:\s*compile-only\b/;
/** Variables that would point a snippet at a real service. */
const SERVICE_ENV = ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_MODEL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_MODEL', 'KAFKA_BROKERS'];

/** One ```ts block of a markdown text. */
interface Snippet {
  /** 1-based line of the block's first code line in the markdown. */
  readonly line: number;
  readonly code: string;
  readonly compileOnly: boolean;
}

/** The ```ts (or ```typescript) blocks of a markdown text, in order. */
function extractSnippets(markdown: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[2]!;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[end]!)) end++;
    if (end === lines.length) throw new Error(`README.md:${i + 1}: unclosed code block`);
    const code = lines.slice(start, end).join('\n');
    out.push({ line: start + 1, code, compileOnly: COMPILE_ONLY.test(code.trimStart()) });
    i = end;
  }
  return out;
}

/** The project's compiler options (tsconfig.json), for a type check without output. */
function projectOptions(): ts.CompilerOptions {
  const file = path.join(REPO, 'tsconfig.json');
  const read = ts.readConfigFile(file, ts.sys.readFile);
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO, undefined, file);
  const fatal = parsed.errors.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (fatal.length > 0) throw new Error(ts.formatDiagnostics(fatal, formatHost));
  return { ...parsed.options, noEmit: true };
}

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => REPO,
  getNewLine: () => '\n',
};

describe('README.md code blocks', () => {
  const snippets = extractSnippets(readFileSync(README, 'utf8'));
  const dir = path.join(REPO, '.tmp', `readme-${process.pid}-${Date.now().toString(36)}`);
  const fileOf = (s: Snippet): string => path.join(dir, `readme-line-${s.line}.ts`);

  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    for (const s of snippets) writeFileSync(fileOf(s), `${s.code}\n`);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('has ts blocks, and most of them run', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    expect(snippets.filter((s) => !s.compileOnly).length).toBeGreaterThan(snippets.filter((s) => s.compileOnly).length);
  });

  it('finds blocks and the compile-only marker', () => {
    const md = ['# x', '```ts', "import 'a';", '```', '```sh', 'npm test', '```', '```ts', '// readme: compile-only (needs keys)', 'x;', '```'].join('\n');
    expect(extractSnippets(md)).toEqual([
      { line: 3, code: "import 'a';", compileOnly: false },
      { line: 9, code: '// readme: compile-only (needs keys)\nx;', compileOnly: true },
    ]);
  });

  it('type-checks every block with the project compiler options: 0 diagnostics', () => {
    const program = ts.createProgram({ rootNames: snippets.map(fileOf), options: projectOptions() });
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...snippets.flatMap((s) => {
        const sf = program.getSourceFile(fileOf(s));
        if (sf === undefined) throw new Error(`README.md:${s.line}: not in the program`);
        return ts.getPreEmitDiagnostics(program, sf);
      }),
    ];
    // Name the README line, not the temp file: README.md:<line of the block's first line + n>.
    const report = diagnostics.map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (d.file === undefined || d.start === undefined) return `TS${d.code}: ${message}`;
      const s = snippets.find((x) => fileOf(x) === path.normalize(d.file!.fileName));
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      const where = s === undefined ? `${path.relative(REPO, d.file.fileName)}:${line + 1}` : `README.md:${s.line + line}`;
      return `${where}:${character + 1} TS${d.code}: ${message}`;
    });
    expect(report, report.join('\n')).toEqual([]);
  }, 120_000);

  for (const s of snippets.filter((x) => !x.compileOnly)) {
    it(`runs the block at README.md:${s.line} on the simulated provider, without network`, async () => {
      const saved = new Map(SERVICE_ENV.map((k) => [k, process.env[k]]));
      for (const k of SERVICE_ENV) delete process.env[k];
      vi.stubGlobal('fetch', (input: unknown) => Promise.reject(new Error(`README.md:${s.line} tried the network: ${String(input)}`)));
      const errors: unknown[][] = [];
      const logs = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      const errs = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args));
      try {
        await import(/* @vite-ignore */ pathToFileURL(fileOf(s)).href);
        // A block logs its failure branch with console.error: it must take the happy path here.
        expect(errors, `README.md:${s.line} logged errors`).toEqual([]);
      } finally {
        logs.mockRestore();
        errs.mockRestore();
        vi.unstubAllGlobals();
        for (const [k, v] of saved) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
    }, 60_000);
  }
});
