/**
 * Sticky assignment of runs to an experiment's variants: a salted 32-bit hash of a key
 * (the run's user, tenant or id) picks a point in [0, 1), and the point picks a variant by
 * weight. The same key lands in the same variant on every worker and after restarts, as long
 * as the weights stay; `compileExperiment` does the per-experiment work once, so assigning a
 * run costs one hash and two passes over the variants, with no allocation.
 * @module
 */
import { ValidationError } from '../errors.ts';
import type { ExperimentSpec } from '../definition/types.ts';
import type { BucketFn } from './types.ts';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_32 = 4294967296;

/** FNV-1a over the UTF-16 code units of `s`, from state `h`. */
function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/** murmur3's finalizer: spreads every input bit over the high bits the bucket is read from. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a state after `salt + '\u0000'`. */
function saltState(salt: string): number {
  return Math.imul(fnv(FNV_OFFSET, salt), FNV_PRIME); // ^ 0 is a no-op
}

/**
 * A stable point in [0, 1) for a key and a salt: FNV-1a (32-bit) over the UTF-16 code units
 * of `salt + '\u0000' + key`, with murmur3's finalizer, divided by 2^32. Not cryptographic:
 * for spreading traffic only. The same key and salt give the same point in every process.
 *
 * @example
 * ```ts
 * const u = bucketOf('user-7', 'qa'); // always the same number in [0, 1)
 * ```
 */
export const bucketOf: BucketFn = (key, salt) => mix(fnv(saltState(salt), key)) / TWO_32;

/**
 * The name whose share of the total weight contains `u` (in [0, 1)), walking the entries in
 * order; entries of weight 0 (or less, or not finite) are never picked. When no entry has
 * weight, the first is returned. Throws a ValidationError (`EMPTY_WEIGHTS`) for no entries.
 *
 * @example
 * ```ts
 * pickWeighted([['a', 1], ['b', 3]], 0.2); // 'a' (0.2 x 4 = 0.8 < 1)
 * pickWeighted([['a', 1], ['b', 3]], 0.5); // 'b'
 * ```
 */
export function pickWeighted(entries: readonly (readonly [string, number])[], u: number): string {
  if (entries.length === 0) throw new ValidationError('EMPTY_WEIGHTS', 'no entries to pick from', [{ code: 'too_small', path: ['entries'], message: 'needs at least one entry' }]);
  let total = 0;
  for (const [, w] of entries) if (w > 0 && Number.isFinite(w)) total += w;
  if (total === 0) return entries[0]![0];
  const x = u * total;
  let acc = 0;
  let last = entries[0]![0];
  for (const [name, w] of entries) {
    if (!(w > 0 && Number.isFinite(w))) continue;
    acc += w;
    last = name;
    if (x < acc) return name;
  }
  return last; // u at the very top, or rounding: the last entry with weight
}

/**
 * What sticky assignment needs to know about a run.
 *
 * @example
 * ```ts
 * const who: AssignmentKeys = { runId: 'r1', tenant: 'acme', user: 'u7' };
 * ```
 */
export interface AssignmentKeys {
  readonly runId: string;
  readonly tenant?: string | undefined;
  readonly user?: string | undefined;
}

/**
 * The key a run's variant sticks to, by the experiment's `stickyBy`: `user` (default) takes
 * the user, else the tenant, else the run id; `tenant` the tenant, else the run id; `run`
 * the run id (a fresh draw per run).
 *
 * @example
 * ```ts
 * keyOf({ variants: { a: { weight: 1 } } }, { runId: 'r1', tenant: 'acme', user: undefined }); // 'acme'
 * ```
 */
export function keyOf(spec: ExperimentSpec, keys: AssignmentKeys): string {
  switch (spec.stickyBy) {
    case 'run': return keys.runId;
    case 'tenant': return keys.tenant ?? keys.runId;
    default: return keys.user ?? keys.tenant ?? keys.runId;
  }
}

/**
 * An experiment made ready for assignment (see {@link compileExperiment}).
 *
 * @example
 * ```ts
 * const e = compileExperiment(qa.experiment!, qa.name);
 * const variant = e.assign(e.keyOf({ runId, tenant, user }), policy.variants, paused);
 * ```
 */
export interface CompiledExperiment {
  readonly spec: ExperimentSpec;
  /** Variant names, in the spec's order. */
  readonly variants: readonly string[];
  /** The variant paused traffic goes to (the spec's `control`, else the first variant). */
  readonly control: string;
  /** What the hash is salted with (the spec's `name`, else the name given to compile). */
  readonly salt: string;
  /** The key assignment sticks to for a run (see {@link keyOf}). */
  keyOf(keys: AssignmentKeys): string;
  /** The key's point in [0, 1) for this experiment. */
  bucket(key: string): number;
  /**
   * The key's variant. `weights` (a policy's) replace the spec's weight of each variant they
   * name (names the experiment lacks are ignored); a `paused` variant keeps its share, but
   * runs that land in it go to control, so nobody else changes variant. No weight at all: control.
   * The cumulative weights of the last `weights` object are kept by identity: give a new object
   * for new weights, never change one in place (a policy document is immutable).
   */
  assign(key: string, weights?: Readonly<Record<string, number>>, paused?: ReadonlySet<string>): string;
}

/**
 * Does an experiment's per-spec work once: variant order, spec weights, control, the hash
 * state of the salt. `fallbackName` (usually the topology's name) salts the hash when the
 * spec has no `name`.
 *
 * @example
 * ```ts
 * const e = compileExperiment({ variants: { control: { weight: 90 }, b: { weight: 10 } } }, 'qa');
 * e.assign('user-7');                      // 'control' or 'b', always the same for user-7
 * e.assign('user-7', { b: 0 });            // 'control'
 * e.assign('user-7', undefined, new Set(['b'])); // 'control' if user-7 was in b, else as before
 * ```
 */
export function compileExperiment(spec: ExperimentSpec, fallbackName = ''): CompiledExperiment {
  const variants = Object.keys(spec.variants);
  if (variants.length === 0) throw new ValidationError('EXPERIMENT_INVALID', 'experiment', [{ code: 'too_small', path: ['variants'], message: 'an experiment needs at least one variant' }]);
  const base = variants.map((v) => spec.variants[v]!.weight);
  const control = spec.control !== undefined && variants.includes(spec.control) ? spec.control : variants[0]!;
  const salt = spec.name ?? fallbackName;
  const state = saltState(salt);
  const n = variants.length;
  // Cumulative weights for the last weights object seen (a policy's stays the same object
  // while its version is current), so an assignment is one hash and one scan.
  const cum = new Float64Array(n);
  let cumFor: Readonly<Record<string, number>> | undefined | null = null;
  const prepare = (weights: Readonly<Record<string, number>> | undefined): number => {
    if (cumFor !== weights) {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const w = weights === undefined ? base[i]! : (weights[variants[i]!] ?? base[i]!);
        acc += w > 0 && Number.isFinite(w) ? w : 0;
        cum[i] = acc;
      }
      cumFor = weights;
    }
    return cum[n - 1]!;
  };
  return {
    spec,
    variants,
    control,
    salt,
    keyOf: (keys) => keyOf(spec, keys),
    bucket: (key) => mix(fnv(state, key)) / TWO_32,
    assign(key, weights, paused) {
      const total = prepare(weights);
      if (total === 0) return control;
      const x = (mix(fnv(state, key)) / TWO_32) * total;
      let i = 0;
      while (i < n - 1 && !(x < cum[i]!)) i++;
      while (i > 0 && cum[i]! === cum[i - 1]!) i--; // rounding at the top: the last variant with weight
      const picked = variants[i]!;
      return paused !== undefined && paused.has(picked) ? control : picked;
    },
  };
}

/**
 * Options of {@link assignVariant}.
 *
 * @example
 * ```ts
 * const o: AssignOptions = { key: 'user-7', weights: { b: 50 }, paused: new Set(['c']) };
 * ```
 */
export interface AssignOptions {
  /** What assignment sticks to (see {@link keyOf}). */
  readonly key: string;
  /** Weights replacing the spec's, by variant (a policy's `variants`). */
  readonly weights?: Readonly<Record<string, number>> | undefined;
  /** Variants whose runs go to control. */
  readonly paused?: ReadonlySet<string> | undefined;
  /** Salt of the hash when the spec has no `name` (usually the topology's name). Default `''`. */
  readonly salt?: string | undefined;
}

/**
 * One assignment without compiling first (compiles each call: for tests and one-offs; on the
 * hot path keep a {@link compileExperiment} result).
 *
 * @example
 * ```ts
 * assignVariant(qa.experiment!, { key: 'user-7', salt: 'qa', weights: { control: 1, b: 1 } });
 * ```
 */
export function assignVariant(spec: ExperimentSpec, opts: AssignOptions): string {
  return compileExperiment(spec, opts.salt).assign(opts.key, opts.weights, opts.paused);
}
