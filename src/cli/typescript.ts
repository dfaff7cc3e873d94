/**
 * TypeScript topology and ops files. The CLI itself is plain JavaScript (dist/);
 * only when it is about to load a `.ts`/`.mts`/`.cts` file does it make Node able
 * to: tsx when installed (registered once, lazily: its ES module and CommonJS hooks,
 * so a `.ts` file loads in an ES module or a CommonJS package alike), else Node's own type stripping (on by default from Node 22.18 / 23.6,
 * `process.features.typescript`), else a message telling the user what to install or
 * write instead.
 * @module
 */

/**
 * How TypeScript files get loaded, or why they cannot be.
 *
 * @example
 * ```ts
 * const ts: TypeScriptSupport = { ok: false, message: 'install tsx (npm i -D tsx)' };
 * ```
 */
export type TypeScriptSupport =
  | { readonly ok: true; readonly via: 'tsx' | 'node'; readonly load: ScopedImport }
  | { readonly ok: false; readonly message: string };

/**
 * Imports a module (`specifier`, resolved from `parent`, a file URL) the way TypeScript support
 * loads it: through tsx's namespace, or Node's own `import()`.
 *
 * @example
 * ```ts
 * const mod = await load(pathToFileURL(resolve('flow.ts')).href, import.meta.url);
 * ```
 */
export type ScopedImport = (specifier: string, parent: string) => Promise<unknown>;

/**
 * What {@link setUpTypeScript} needs from the running Node (tests pass fakes).
 *
 * @example
 * ```ts
 * const host: TypeScriptHost = { registerTsx, typescript: process.features.typescript, warm: async () => {} };
 * ```
 */
export interface TypeScriptHost {
  /**
   * Registers tsx under a namespace (its CommonJS and ES module hooks alike) and resolves with
   * the import of that namespace; rejects when tsx is not installed.
   */
  registerTsx(): Promise<ScopedImport>;
  /** `process.features.typescript`: `'strip'`/`'transform'` when Node strips types itself. */
  readonly typescript: unknown;
  /**
   * Loads modules that TypeScript files are expected to import (the package's own entry) before
   * tsx's hooks are registered, so the hooks only see user code. Optional.
   */
  warm?(): Promise<unknown>;
}

/**
 * Whether `file` needs TypeScript support (`.ts`, `.mts`, `.cts`).
 *
 * @example
 * ```ts
 * isTypeScriptFile('topologies/rag.ops.ts'); // true
 * ```
 */
export function isTypeScriptFile(file: string): boolean {
  return /\.[cm]?ts$/i.test(file);
}

const isMissing = (e: unknown): boolean => {
  const err = e as { code?: unknown; message?: unknown } | null;
  return err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND';
};

/**
 * Makes TypeScript loadable: tsx first, else Node's type stripping, else an explanation.
 *
 * @example
 * ```ts
 * const ts = await setUpTypeScript({ registerTsx, typescript: process.features.typescript });
 * if (!ts.ok) console.error(ts.message);
 * ```
 */
export async function setUpTypeScript(host: TypeScriptHost): Promise<TypeScriptSupport> {
  let tsxProblem: string | undefined;
  await host.warm?.().catch(() => undefined);
  try {
    return { ok: true, via: 'tsx', load: await host.registerTsx() };
  } catch (e) {
    if (!isMissing(e)) tsxProblem = e instanceof Error ? e.message : String(e);
  }
  if (host.typescript === 'strip' || host.typescript === 'transform') return { ok: true, via: 'node', load: (specifier) => import(specifier) };
  return {
    ok: false,
    message: tsxProblem === undefined
      ? 'TypeScript needs tsx (npm i -D tsx) or Node >= 22.18 (which strips types itself); or write it as .js/.mjs, or the topology as .json/.yaml'
      : `tsx could not be registered (${tsxProblem}); reinstall it (npm i -D tsx), or write it as .js/.mjs, or the topology as .json/.yaml`,
  };
}

let once: Promise<TypeScriptSupport> | undefined;

/**
 * {@link setUpTypeScript} for this process, once: the first TypeScript file pays for it, later ones reuse it.
 *
 * @example
 * ```ts
 * if (isTypeScriptFile(file)) { const ts = await enableTypeScript(); if (!ts.ok) return ts.message; }
 * ```
 */
export function enableTypeScript(): Promise<TypeScriptSupport> {
  return (once ??= setUpTypeScript({
    registerTsx,
    typescript: (process.features as { typescript?: unknown }).typescript,
    // Topology and ops modules import the package's core entry; loading it natively first keeps
    // its ~100 modules out of tsx's (off-thread) hooks, which then only resolve and compile user files.
    warm: () => import('../index.ts'),
  }));
}

/**
 * tsx's ES module hooks and its CommonJS hooks, both registered for the process: a `.ts` file in an
 * ES module package loads as an ES module (sharing this process's modules: one copy of the library),
 * and one in a `"type": "commonjs"` package (what `npm init` writes) loads as CommonJS. With the ES
 * module hooks alone, Node 20 failed such a file with "Cannot require() ES Module … in a cycle".
 * (A namespaced registration would load the library a second time, ~0.3 s, and split its identity.)
 */
async function registerTsx(): Promise<ScopedImport> {
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  esm.register();
  cjs.register();
  return (specifier) => import(specifier);
}
