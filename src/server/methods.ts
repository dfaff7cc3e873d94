/**
 * Which methods a path answers: learned from the routes as they register, so a request
 * with another method on a known path is answered `405 Method Not Allowed` with an
 * `Allow` header (RFC 9110 §15.5.6), not a `404` that says the path does not exist.
 * @module
 */
import type { ServerApp } from './context.ts';

/**
 * The methods a concrete path (no query) answers, in a stable order; empty when no route
 * matches it.
 *
 * @example
 * ```ts
 * const allowed = learnMethods(app); // before any route registers
 * allowed('/v1/runs/r-1'); // ['GET', 'HEAD']
 * ```
 */
export type AllowedMethods = (path: string) => readonly string[];

interface Pattern {
  readonly re: RegExp;
  readonly methods: Set<string>;
}

/** A route path (`/v1/runs/:id`, `/assets/*`) as a regular expression over concrete paths. */
function patternOf(url: string): RegExp {
  const parts = url.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

/**
 * Records every route's path and methods as it registers (an `onRoute` hook: call it before
 * the routes) and returns the lookup. A `GET` route answers `HEAD` too, as fastify serves it.
 *
 * @example
 * ```ts
 * const allowed = learnMethods(app);
 * app.get('/healthz', handler);
 * allowed('/healthz'); // ['GET', 'HEAD']
 * ```
 */
export function learnMethods(app: ServerApp): AllowedMethods {
  const byUrl = new Map<string, Pattern>();
  app.addHook('onRoute', (route) => {
    // a catch-all (CORS preflights' `OPTIONS *`) says nothing about which paths exist
    if (route.url === '*' || route.url === '/*') return;
    let p = byUrl.get(route.url);
    if (p === undefined) {
      p = { re: patternOf(route.url), methods: new Set() };
      byUrl.set(route.url, p);
    }
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) {
      p.methods.add(m);
      if (m === 'GET') p.methods.add('HEAD');
    }
  });
  return (path) => {
    const out = new Set<string>();
    for (const p of byUrl.values()) if (p.re.test(path)) for (const m of p.methods) out.add(m);
    return [...out].sort();
  };
}
