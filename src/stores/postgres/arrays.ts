/**
 * PostgreSQL array literals (`{a,b,NULL}`) built directly as text for statement
 * parameters: one pass per column, quoting only what needs it. The driver's own
 * conversion of a JS array quotes and escapes every element with two regular
 * expressions, which for the thousands of elements of a group commit costs more than
 * the rest of building the statement.
 * @module
 */

const NEEDS_ESCAPE = /["\\]/;

/**
 * A `text[]` literal; `null` elements are SQL NULL.
 *
 * @example
 * ```ts
 * textArray(['a', null, 'say "hi"']); // '{"a",NULL,"say \\"hi\\""}'
 * ```
 */
export function textArray(xs: readonly (string | null)[]): string {
  if (xs.length === 0) return '{}';
  // The common case in one join: no NULLs and nothing to escape.
  let plain = true;
  for (let i = 0; i < xs.length && plain; i++) {
    const x = xs[i];
    plain = typeof x === 'string' && !x.includes('"') && !x.includes('\\');
  }
  if (plain) return `{"${xs.join('","')}"}`;
  let out = '{';
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (i > 0) out += ',';
    if (x === null || x === undefined) out += 'NULL';
    else out += NEEDS_ESCAPE.test(x) ? `"${x.replace(/[\\"]/g, '\\$&')}"` : `"${x}"`;
  }
  return `${out}}`;
}

/**
 * An integer (`int[]`, `bigint[]`) or `boolean[]` literal; `null` elements are SQL NULL.
 * Numbers must be finite integers (the stores check them before they get here).
 *
 * @example
 * ```ts
 * scalarArray([1, null, 3]); // '{1,NULL,3}'
 * scalarArray([true, false]); // '{true,false}'
 * ```
 */
export function scalarArray(xs: readonly (number | boolean | null)[]): string {
  if (!xs.includes(null)) return `{${xs.join(',')}}`;
  let out = '{';
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (i > 0) out += ',';
    out += x === null || x === undefined ? 'NULL' : String(x);
  }
  return `${out}}`;
}
