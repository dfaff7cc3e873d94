/**
 * TypeScript topology and ops files. The CLI itself is plain JavaScript (dist/);
 * only when it is about to load a `.ts`/`.mts`/`.cts` file does it make Node able
 * to: tsx when installed (registered once, lazily), else Node's own type
 * stripping (on by default from Node 22.18 / 23.6, `process.features.typescript`),
 * else a message telling the user what to install or write instead.
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
  | { readonly ok: true; readonly via: 'tsx' | 'node' }
  | { readonly ok: false; readonly message: string };

/**
 * What {@link setUpTypeScript} needs from the running Node (tests pass fakes).
 *
 * @example
 * ```ts
 * const host: TypeScriptHost = { importTsx: () => import('tsx/esm/api'), typescript: process.features.typescript, warm: async () => {} };
 * ```
 */
export interface TypeScriptHost {
  /** Imports tsx's ESM API; rejects when tsx is not installed. */
  importTsx(): Promise<{ register(): unknown }>;
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
 * const ts = await setUpTypeScript({ importTsx: () => import('tsx/esm/api'), typescript: process.features.typescript });
 * if (!ts.ok) console.error(ts.message);
 * ```
 */
export async function setUpTypeScript(host: TypeScriptHost): Promise<TypeScriptSupport> {
  let tsxProblem: string | undefined;
  await host.warm?.().catch(() => undefined);
  try {
    const tsx = await host.importTsx();
    tsx.register();
    return { ok: true, via: 'tsx' };
  } catch (e) {
    if (!isMissing(e)) tsxProblem = e instanceof Error ? e.message : String(e);
  }
  if (host.typescript === 'strip' || host.typescript === 'transform') return { ok: true, via: 'node' };
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
    importTsx: () => import('tsx/esm/api'),
    typescript: (process.features as { typescript?: unknown }).typescript,
    // Topology and ops modules import the package's core entry; loading it natively first keeps
    // its ~100 modules out of tsx's (off-thread) hooks, which then only resolve and compile user files.
    warm: () => import('../index.ts'),
  }));
}
