/**
 * Canonical JSON: the one byte sequence a JSON value hashes to, whoever wrote it. Keys are
 * sorted by UTF-16 code units, no whitespace, numbers and strings as `JSON.stringify` writes
 * them: for the finite numbers and plain values an audit record holds this is the JSON
 * Canonicalization Scheme (RFC 8785), without a dependency for twenty lines.
 * @module
 */

/**
 * The canonical JSON text of a JSON value (objects with sorted keys, `undefined` members left
 * out as `JSON.stringify` does). Throws for a non-finite number, which JSON cannot carry.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null, 'x'] }); // '{"a":[true,null,"x"],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot carry ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot carry a ${typeof value}`);
}
