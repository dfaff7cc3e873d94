/**
 * `llmo keys create|list|revoke`: the API keys `llmo serve` accepts, in a key store
 * (`--keys`, else `LLMO_KEYS`, else `.llmo/keys.json` in the working directory). A running
 * server on the same file or database sees the change at its next request.
 * @module
 */
import { isValidationError, type Issue } from '../../errors.ts';
import { ROLES, type KeyInfo, type KeyStore, type Role } from '../../server/access.ts';
import { DEFAULT_KEYS_FILE, openKeyStore } from '../../server/keys/open.ts';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';

/**
 * Options of `llmo keys ...`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: KeysCommandOptions = { tenant: 'acme', role: 'operator', topology: ['rag'], name: 'ci' };
 * ```
 */
export interface KeysCommandOptions {
  /** The key store: a JSON file, a .db file, sqlite:path or postgres://. */
  readonly keys?: string | undefined;
  readonly tenant?: string | undefined;
  readonly role?: string | undefined;
  /** Topology names or globs the role applies to (repeatable, or comma-separated); default every topology (`*`). */
  readonly topology?: readonly string[] | string | undefined;
  readonly name?: string | undefined;
  readonly json?: boolean | undefined;
}

/**
 * The key store a command uses: `--keys`, else `LLMO_KEYS`, else `.llmo/keys.json`.
 *
 * @example
 * ```ts
 * keysUrl(undefined, io); // '.llmo/keys.json'
 * ```
 */
export function keysUrl(flag: string | undefined, io: Io): string {
  const v = flag ?? (io.env ?? process.env)['LLMO_KEYS'];
  return v === undefined || v === '' ? DEFAULT_KEYS_FILE : v;
}

const FLAG_OF: Readonly<Record<string, string>> = { tenant: '--tenant', roles: '--topology', name: '--name' };

/**
 * Runs `llmo keys <action>`; resolves with the exit code (0 done, 1 unknown key or a store
 * that fails, 2 invalid usage or key store URL).
 *
 * @example
 * ```ts
 * const code = await keysCommand('create', undefined, { tenant: 'acme', role: 'operator', keys: 'keys.json' }, io);
 * ```
 */
export async function keysCommand(action: 'create' | 'list' | 'revoke', keyId: string | undefined, opts: KeysCommandOptions, io: Io): Promise<number> {
  let roles: Record<string, Role> | undefined;
  if (action === 'create') {
    if (opts.tenant === undefined) return fail(io, 'keys create needs --tenant <name>');
    if (opts.role === undefined || !(ROLES as readonly string[]).includes(opts.role)) return fail(io, `--role ${opts.role ?? '(missing)'}: expected ${ROLES.join(', ')}`);
    const patterns = [opts.topology ?? '*'].flat().flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
    if (patterns.length === 0) return fail(io, '--topology: expected a topology name or glob');
    roles = Object.fromEntries(patterns.map((p) => [p, opts.role as Role]));
  }
  if (action === 'revoke' && (keyId === undefined || keyId === '')) return fail(io, 'keys revoke needs a key id (see llmo keys list)');
  const url = keysUrl(opts.keys, io);
  let keys: KeyStore;
  try {
    keys = await openKeyStore(url);
  } catch (e) {
    return fail(io, `--keys ${url}: ${(e as Error).message}`, isValidationError(e) ? EXIT.invalid : EXIT.runFailed);
  }
  try {
    if (action === 'create') {
      const created = await keys.create({ tenant: opts.tenant!, roles: roles!, ...(opts.name === undefined ? {} : { name: opts.name }) });
      io.out.write(opts.json === true ? `${JSON.stringify(created)}\n` : `${created.secret}\n`);
      io.err.write(`llmo: created key ${created.keyId} of tenant ${created.tenant} (${describeRoles(created.roles)}) in ${keys.location}; its secret is shown once, above: store it now\n`);
      return EXIT.ok;
    }
    if (action === 'list') {
      const listed = await keys.list(opts.tenant);
      if (opts.json === true) for (const k of listed) io.out.write(`${JSON.stringify(k)}\n`);
      else io.out.write(table(listed));
      return EXIT.ok;
    }
    const revoked = await keys.revoke(keyId!, opts.tenant);
    if (!revoked) return fail(io, `no key '${keyId}'${opts.tenant === undefined ? '' : ` of tenant ${opts.tenant}`} in ${keys.location}`, EXIT.runFailed);
    io.out.write(`revoked ${keyId}\n`);
    return EXIT.ok;
  } catch (e) {
    if (isValidationError(e)) return reportIssues(io, 'the key', e.issues.map((i): Issue => ({ ...i, path: [FLAG_OF[String(i.path[0])] ?? String(i.path[0] ?? ''), ...i.path.slice(1)] })));
    return fail(io, `${keys.location}: ${(e as Error).message}`, EXIT.runFailed);
  } finally {
    await keys.close().catch((e: unknown) => io.err.write(`llmo: warning: closing ${keys.location}: ${(e as Error).message}\n`));
  }
}

function describeRoles(roles: Readonly<Record<string, Role>>): string {
  return Object.entries(roles).map(([p, r]) => `${r} on ${p}`).join(', ');
}

function table(keys: readonly KeyInfo[]): string {
  if (keys.length === 0) return 'no keys\n';
  const rows = [['KEY', 'TENANT', 'ROLES', 'NAME', 'CREATED', 'REVOKED'], ...keys.map((k) => [
    k.keyId, k.tenant, Object.entries(k.roles).map(([p, r]) => `${p}=${r}`).join(','), k.name ?? '',
    new Date(k.createdAt).toISOString(), k.revokedAt === undefined ? '' : new Date(k.revokedAt).toISOString(),
  ])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}
