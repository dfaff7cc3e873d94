/**
 * Every route module of the server, in registration order.
 * @module
 */
import type { Routes } from '../context.ts';
import { healthRoutes } from './health.ts';
import { keyRoutes } from './keys.ts';
import { runActionRoutes } from './run-actions.ts';
import { runRoutes } from './runs.ts';
import { streamRoutes } from './stream.ts';
import { topologyRoutes } from './topologies.ts';
import { viewRoutes } from './view.ts';

/**
 * The routes `createServer` registers by default.
 *
 * @example
 * ```ts
 * const server = await createServer(deps, {}, ROUTES);
 * ```
 */
export const ROUTES: readonly Routes[] = Object.freeze([healthRoutes, topologyRoutes, runRoutes, runActionRoutes, streamRoutes, keyRoutes, viewRoutes]);
