/**
 * Who is asking and what they may do. An API key maps to one tenant and, per
 * topology (glob patterns), a role; a request is authenticated to a {@link Principal}
 * and every route asks {@link can} before it acts. A tenant never sees another
 * tenant's runs: routes answer 404 for them, exactly as for an unknown id.
 * @module
 */
import * as z from 'zod';
import { text } from './schemas/common.ts';

/** Roles, weakest first: each can do what the one before it can. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;

/**
 * A role: `viewer` reads (runs, streams, topologies), `operator` also starts, cancels,
 * signals and forks runs, `admin` also manages the tenant's keys.
 *
 * @example
 * ```ts
 * const role: Role = 'operator';
 * ```
 */
export type Role = (typeof ROLES)[number];

/** Schema of a {@link Role}. */
export const RoleSchema = z.enum(ROLES);

/**
 * What a request wants to do, and the least role that may.
 *
 * @example
 * ```ts
 * ACTION_ROLE['runs.start']; // 'operator'
 * ```
 */
export const ACTION_ROLE = Object.freeze({
  'runs.read': 'viewer',
  'topologies.read': 'viewer',
  'runs.start': 'operator',
  'runs.cancel': 'operator',
  'runs.signal': 'operator',
  'runs.fork': 'operator',
  'keys.manage': 'admin',
} as const satisfies Record<string, Role>);

/**
 * An action a route checks with {@link can}.
 *
 * @example
 * ```ts
 * const a: Action = 'runs.read';
 * ```
 */
export type Action = keyof typeof ACTION_ROLE;

/**
 * Roles by topology: keys are topology names or globs (`*` matches any run of characters),
 * the most specific (longest) matching pattern wins.
 *
 * @example
 * ```ts
 * const roles: Roles = { '*': 'viewer', rag: 'operator' };
 * ```
 */
export type Roles = Readonly<Record<string, Role>>;

/** Roles with patterns checked by `pattern`: at least one. */
const rolesOf = (pattern: z.ZodString) => z.record(pattern.min(1).max(200), RoleSchema)
  .refine((r) => Object.keys(r).length > 0, { message: 'give at least one topology pattern and its role' })
  // the refinement, as the OpenAPI document says it
  .meta({ minProperties: 1 });

/**
 * Schema of {@link Roles} as key stores keep them: at least one pattern. What a key store
 * wrote before stays readable; {@link NewRolesSchema} checks roles a caller grants.
 *
 * @example
 * ```ts
 * RolesSchema.parse({ '*': 'viewer' });
 * ```
 */
export const RolesSchema = rolesOf(z.string());

/**
 * Schema of {@link Roles} a caller grants (`POST /v1/keys`): also no NUL (U+0000) in a pattern,
 * which a PostgreSQL key store could not keep.
 *
 * @example
 * ```ts
 * NewRolesSchema.parse({ rag: 'operator' });
 * ```
 */
export const NewRolesSchema = rolesOf(text());

/**
 * An authenticated caller: the key's id (never its secret), tenant and roles.
 *
 * @example
 * ```ts
 * const p: Principal = { keyId: 'k_3f2a', tenant: 'acme', roles: { '*': 'operator' } };
 * ```
 */
export interface Principal {
  readonly keyId: string;
  readonly tenant: string;
  readonly roles: Roles;
  /** A person or service the key stands for, for audit and attribution (`RunOptions.user`). */
  readonly name?: string;
}

const globCache = new WeakMap<Roles, readonly (readonly [RegExp, number, Role])[]>();

const compiled = (roles: Roles): readonly (readonly [RegExp, number, Role])[] => {
  let c = globCache.get(roles);
  if (c === undefined) {
    c = Object.entries(roles)
      .map(([pattern, role]) => [new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`), pattern.length, role] as const)
      .sort((a, b) => b[1] - a[1]);
    globCache.set(roles, c);
  }
  return c;
};

/**
 * The principal's role on a topology (the longest matching pattern's), or undefined.
 *
 * @example
 * ```ts
 * roleOn({ keyId: 'k', tenant: 't', roles: { '*': 'viewer', rag: 'admin' } }, 'rag'); // 'admin'
 * ```
 */
export function roleOn(principal: Principal, topology: string): Role | undefined {
  for (const [re, , role] of compiled(principal.roles)) if (re.test(topology)) return role;
  return undefined;
}

/**
 * Whether the principal may do `action` on `topology` (for actions not about one topology,
 * such as `keys.manage`, pass `'*'`: its best role over all patterns counts).
 *
 * @example
 * ```ts
 * if (!can(principal, 'runs.start', 'rag')) return reply.code(403).send(...);
 * ```
 */
export function can(principal: Principal, action: Action, topology: string): boolean {
  const need = ROLES.indexOf(ACTION_ROLE[action]);
  if (topology === '*') return Object.values(principal.roles).some((r) => ROLES.indexOf(r) >= need);
  const role = roleOn(principal, topology);
  return role !== undefined && ROLES.indexOf(role) >= need;
}

/**
 * Why `principal` may not grant `roles` (empty when it may): a key can hold only what its
 * creator holds. Each requested pattern, read as a topology name, must get at least the
 * requested role from the principal's roles, and must not cover a pattern on which the
 * principal holds less (granting `*` as admin is refused to an admin whose `billing` is viewer).
 * Used for creating and revoking keys.
 *
 * @example
 * ```ts
 * grantIssues({ keyId: 'k', tenant: 't', roles: { rag: 'admin' } }, { '*': 'viewer' }); // one issue at roles.*
 * ```
 */
export function grantIssues(principal: Principal, roles: Roles): { code: string; path: string[]; message: string }[] {
  const issues: { code: string; path: string[]; message: string }[] = [];
  for (const [pattern, role] of Object.entries(roles)) {
    const want = ROLES.indexOf(role);
    const held = roleOn(principal, pattern);
    const re = compiled({ [pattern]: role })[0]![0];
    const lower = Object.entries(principal.roles).find(([q, r]) => ROLES.indexOf(r) < want && re.test(q));
    if (held === undefined || ROLES.indexOf(held) < want) {
      issues.push({ code: 'forbidden', path: ['roles', pattern], message: `this key holds ${held ?? 'no role'} on '${pattern}', so it cannot grant ${role}` });
    } else if (lower !== undefined) {
      issues.push({ code: 'forbidden', path: ['roles', pattern], message: `'${pattern}' covers '${lower[0]}', where this key holds only ${lower[1]}, so it cannot grant ${role} on it` });
    }
  }
  return issues;
}

/**
 * Where API keys live, hashed: the server asks `verify` on every request. Implementations:
 * see `openKeyStore` (a JSON file, SQLite or PostgreSQL) and `createMemoryKeyStore`.
 *
 * @example
 * ```ts
 * const principal = await keys.verify(secretFromHeader); // undefined: 401
 * ```
 */
export interface KeyStore {
  /** A redacted description (file path or URL without password). */
  readonly location: string;
  /** The principal of a live key with this secret; undefined for unknown or revoked keys. */
  verify(secret: string): Promise<Principal | undefined>;
  /** Creates a key; the secret is returned once and stored only as a hash. */
  create(key: NewKey): Promise<CreatedKey>;
  /** The keys (never their secrets), optionally of one tenant. */
  list(tenant?: string): Promise<KeyInfo[]>;
  /** Revokes a key by id; resolves false when unknown (or of another tenant, when given). */
  revoke(keyId: string, tenant?: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A key to create.
 *
 * @example
 * ```ts
 * const k: NewKey = { tenant: 'acme', roles: { '*': 'operator' }, name: 'ci' };
 * ```
 */
export interface NewKey {
  readonly tenant: string;
  readonly roles: Roles;
  readonly name?: string;
}

/**
 * A key as listed: no secret.
 *
 * @example
 * ```ts
 * for (const k of await keys.list('acme')) console.log(k.keyId, k.roles, k.revokedAt);
 * ```
 */
export interface KeyInfo {
  readonly keyId: string;
  readonly tenant: string;
  readonly roles: Roles;
  readonly name?: string;
  readonly createdAt: number;
  readonly revokedAt?: number;
}

/**
 * A key just created: its secret, shown once.
 *
 * @example
 * ```ts
 * const { secret } = await keys.create({ tenant: 'acme', roles: { '*': 'viewer' } });
 * ```
 */
export interface CreatedKey extends KeyInfo {
  readonly secret: string;
}
