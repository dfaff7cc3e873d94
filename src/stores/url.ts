/**
 * The store URL forms every database-backed part opens (run store, audit store, budget ledger):
 * `memory:`, `postgres://…`, or a SQLite file as a path, `file:`/`sqlite:` URL.
 * @module
 */
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The file path a `file:`/`sqlite:` URL or a plain path names, or undefined when `url` is neither.
 *
 * @example
 * ```ts
 * sqlitePath('sqlite:runs.db'); // 'runs.db'
 * sqlitePath('postgres://db/llmo'); // undefined
 * ```
 */
export function sqlitePath(url: string): string | undefined {
  if (url.startsWith('file://')) return fileURLToPath(url);
  const m = /^(?:file|sqlite):(.*)$/i.exec(url);
  if (m !== null) {
    const rest = m[1] ?? '';
    return rest.startsWith('//') ? (rest.startsWith('///') ? rest.slice(2) : undefined) : rest || undefined;
  }
  // Anything with a scheme is not a path (a Windows drive letter is one letter).
  if (/^[a-z][a-z0-9+.-]+:/i.test(url) && !isAbsolute(url)) return undefined;
  return url;
}

/**
 * A URL with its password replaced by `***`, for messages.
 *
 * @example
 * ```ts
 * redactUrl('postgres://llmo:secret@db/llmo'); // 'postgres://llmo:***@db/llmo'
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    // the URL parser finds where the password ends even when it holds an unencoded '@'
    u.password = '***';
    return u.href;
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
  }
}

/**
 * Whether a URL names a PostgreSQL server.
 *
 * @example
 * ```ts
 * isPostgresUrl('postgresql://db/llmo'); // true
 * ```
 */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url);
}

/**
 * A `postgres://` URL split into what the driver connects to and the SQL schema its `?schema=name`
 * picks (the driver never sees that parameter): `{ url }` alone when there is none.
 *
 * @example
 * ```ts
 * postgresTarget('postgres://u@h/db?schema=llmo_a'); // { url: 'postgres://u@h/db', schema: 'llmo_a' }
 * ```
 */
export function postgresTarget(url: string): { readonly url: string; readonly schema?: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { url };
  parsed.searchParams.delete('schema');
  return { url: parsed.href, schema };
}
