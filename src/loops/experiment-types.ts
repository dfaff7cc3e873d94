/**
 * Sticky assignment as a type: the salted bucket function that places a key at a stable
 * point in [0, 1), so a user lands in the same variant everywhere. `bucketOf`
 * (experiments.ts) is one.
 * @module
 */

/**
 * A stable point in [0, 1) for a key, salted (the experiment or policy name), so the same
 * user lands in the same variant on every worker and restart.
 *
 * @example
 * ```ts
 * const u: BucketFn = bucketOf;
 * u('user-7', 'qa'); // 0.4127…, always
 * ```
 */
export type BucketFn = (key: string, salt: string) => number;
