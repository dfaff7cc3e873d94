/**
 * The engine options a CLI command builds its engine with, from what its topology files export
 * (`engineOptions`) and what its flags add (`--governance` guards): {@link mergeEngineOptions},
 * {@link withGuards}.
 * @module
 */
import type { Guard } from '../definition/guard.ts';
import type { Issue } from '../errors.ts';
import type { EngineOptions } from '../runtime/engine.ts';

/**
 * One topology file's engine options, with the file they came from (for messages).
 *
 * @example
 * ```ts
 * const part: EngineOptionsPart = { file: 'topologies/rag.ts', options: { pools: { llm: 4 } } };
 * ```
 */
export interface EngineOptionsPart {
  readonly file: string;
  readonly options: EngineOptions;
}

/** A guard option as a list. */
const guardsOf = (g: EngineOptions['guard']): readonly Guard[] => (g === undefined ? [] : Array.isArray(g) ? g : [g as Guard]);

/**
 * The engine options of several topology files as one: their pools together (a pool two files
 * size differently is refused, naming both files: `pools.<name>`), every file's guards in file
 * order, and any other option from the first file that sets it. A command serving, recovering or
 * resuming several topologies so gives each the pools its file declares.
 *
 * @example
 * ```ts
 * const merged = mergeEngineOptions([{ file: 'a.ts', options: { pools: { llm: 4 } } }, { file: 'b.ts', options: { pools: { tools: 2 } } }]);
 * if (merged.ok) createEngine({ ...merged.options, store }); // pools { llm: 4, tools: 2 }
 * ```
 */
export function mergeEngineOptions(
  parts: readonly EngineOptionsPart[],
): { readonly ok: true; readonly options: EngineOptions } | { readonly ok: false; readonly issues: readonly Issue[] } {
  const pools: Record<string, number> = {};
  const poolFile = new Map<string, string>();
  const guards: Guard[] = [];
  const issues: Issue[] = [];
  let options: EngineOptions = {};
  for (const { file, options: o } of parts) {
    for (const [name, size] of Object.entries(o.pools ?? {})) {
      const first = poolFile.get(name);
      if (first === undefined) {
        pools[name] = size;
        poolFile.set(name, file);
      } else if (pools[name] !== size) {
        issues.push({ code: 'pool_conflict', path: ['pools', name], message: `pool '${name}' is ${pools[name]} in ${first} but ${size} in ${file}` });
      }
    }
    guards.push(...guardsOf(o.guard));
    options = { ...o, ...options };
  }
  if (issues.length > 0) return { ok: false, issues };
  const { pools: _pools, guard: _guard, ...rest } = options;
  return { ok: true, options: { ...rest, ...(poolFile.size === 0 ? {} : { pools }), ...(guards.length === 0 ? {} : { guard: guards }) } };
}

/**
 * `options` with `guards` (a command's `--governance`) checked before the guards it already has (a
 * topology file's own), instead of replacing them.
 *
 * @example
 * ```ts
 * const engine = createEngine({ ...withGuards(loaded.engineOptions, gov.guards), store });
 * ```
 */
export function withGuards(options: EngineOptions, guards: readonly Guard[]): EngineOptions {
  if (guards.length === 0) return options;
  return { ...options, guard: [...guards, ...guardsOf(options.guard)] };
}
