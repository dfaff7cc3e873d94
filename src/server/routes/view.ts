/**
 * Routes: the live view: the page at / and its assets.
 * @module
 */
import type { Routes } from '../context.ts';

/**
 * Registers the live view: the page at / and its assets.
 *
 * @example
 * ```ts
 * viewRoutes(app, ctx);
 * ```
 */
export const viewRoutes: Routes = () => undefined;
