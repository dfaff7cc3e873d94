/**
 * The `--input` option: JSON text, or `@path` of a JSON file. Problems come back
 * as one message naming `--input` (the command prints it and exits 2).
 * @module
 */
import { readFile } from 'node:fs/promises';

/**
 * Parsed `--input`, or why it could not be read.
 *
 * @example
 * ```ts
 * const r: InputResult = { ok: false, message: '--input is not valid JSON: ...' };
 * ```
 */
export type InputResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

/**
 * Reads `--input`: undefined is `{}`; `@file` reads the file; the text must be JSON.
 *
 * @example
 * ```ts
 * const r = await readInput('{"question":"why?"}'); // { ok: true, value: { question: 'why?' } }
 * const bad = await readInput('{question: hi}');    // { ok: false, message: "--input is not valid JSON: ..." }
 * ```
 */
export async function readInput(raw: string | undefined): Promise<InputResult> {
  if (raw === undefined) return { ok: true, value: {} };
  let text = raw;
  let source = '--input';
  if (raw.startsWith('@')) {
    const path = raw.slice(1);
    source = `--input @${path}`;
    if (path === '') return { ok: false, message: '--input @ needs a file name (--input @input.json)' };
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
      return { ok: false, message: `${source}: cannot read ${path}: ${why}` };
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    const preview = text.length > 60 ? `${text.slice(0, 59)}…` : text;
    return { ok: false, message: `${source} is not valid JSON (${(e as Error).message}): ${preview.replace(/\s+/g, ' ').trim()}` };
  }
}
