/**
 * Writes the labelled PII corpus of `test/governance/pii-corpus.ts` as JSONL, one item a line,
 * with the spans our own detectors find in it (`scanPiiSync`, all built-in detectors), so that a
 * single scorer (`bench/presidio/score.py`) computes our figures and Presidio's from the same
 * file. Offsets are UTF-16 code units as in JavaScript; the export refuses a text outside the
 * Basic Multilingual Plane, where Python's code-point offsets would differ.
 *
 * Usage: `node --import tsx bench/presidio/export-corpus.ts [--seed 13] [out.jsonl]` (stdout
 * without a path).
 *
 * @example
 * ```ts
 * const lines = exportCorpus({ seed: 13 });
 * JSON.parse(lines[0]!).labels[0].type; // 'email'
 * ```
 * @module
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { scanPiiSync } from '../../src/governance/index.ts';
import { generatePiiCorpus } from '../../test/governance/pii-corpus.ts';

/**
 * One exported line: the corpus item, its index and what our detectors found.
 *
 * @example
 * ```ts
 * const line: ExportedItem = { index: 0, context: 'prose', text: 'ssn 536-22-1234', labels: [], ours: [] };
 * ```
 */
export interface ExportedItem {
  readonly index: number;
  readonly context: 'prose' | 'json' | 'code';
  readonly nearMissOf?: string;
  readonly text: string;
  readonly labels: readonly { type: string; start: number; end: number; value: string }[];
  readonly ours: readonly { type: string; start: number; end: number; value: string }[];
}

/**
 * The corpus for `seed` as JSONL lines (no trailing newline on each).
 *
 * @example
 * ```ts
 * exportCorpus({ seed: 13 }).length; // 2634
 * ```
 */
export function exportCorpus(options: { seed: number }): string[] {
  return generatePiiCorpus({ seed: options.seed }).map((item, index) => {
    if (/[\uD800-\uDFFF]/.test(item.text)) throw new Error(`item ${index}: text outside the Basic Multilingual Plane; offsets would differ in Python`);
    const ours = scanPiiSync(item.text).map((m) => ({ type: m.type, start: m.start, end: m.end, value: m.value }));
    const line: ExportedItem = {
      index,
      context: item.context,
      ...(item.nearMissOf !== undefined ? { nearMissOf: item.nearMissOf } : {}),
      text: item.text,
      labels: item.labels.map((l) => ({ type: l.type, start: l.start, end: l.end, value: l.value })),
      ours,
    };
    return JSON.stringify(line);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ options: { seed: { type: 'string', default: '13' } }, allowPositionals: true });
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const body = `${exportCorpus({ seed }).join('\n')}\n`;
  if (positionals[0] === undefined) process.stdout.write(body);
  else writeFileSync(positionals[0], body);
}
