/**
 * Compile-time proof that a zod schema and a hand-written interface describe the same
 * objects: `Assert<Same<Interface, z.input<typeof Schema>>>` stops compiling as soon as
 * one changes without the other. Types only; nothing at run time.
 * @module
 */

/**
 * `T` with readonly dropped and `undefined` dropped from optional fields, a few levels deep.
 *
 * @example
 * ```ts
 * type P = Plain<{ readonly a?: string | undefined }>; // { a?: string }
 * ```
 */
export type Plain<T, D extends 0[] = []> = D['length'] extends 3 ? T
  : T extends readonly (infer E)[] ? Plain<E, [...D, 0]>[]
    : T extends (...args: never[]) => unknown ? T
      : T extends object ? { -readonly [K in keyof T]: Plain<Exclude<T[K], undefined>, [...D, 0]> } : T;

/**
 * `true` when A and B have the same keys and accept the same values (readonly and explicit `undefined` aside).
 *
 * @example
 * ```ts
 * type Ok = Same<{ a?: number }, { readonly a?: number | undefined }>; // true
 * ```
 */
export type Same<A, B> = [Plain<A>] extends [Plain<B>] ? [Plain<B>] extends [Plain<A>] ? [keyof A] extends [keyof B] ? [keyof B] extends [keyof A] ? true : false : false : false : false;

/**
 * Compiles only for `true`.
 *
 * @example
 * ```ts
 * export type OptionsMatch = [Assert<Same<RunOptions, z.input<typeof RunOptionsSchema>>>];
 * ```
 */
export type Assert<T extends true> = T;
