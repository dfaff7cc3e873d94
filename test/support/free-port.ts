/**
 * A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it), for a
 * service a test starts itself (a broker, a private PostgreSQL, a pooler).
 *
 * @example
 * ```ts
 * const env = { PG_PORT: String(await freePort()) };
 * ```
 */
import { createServer } from 'node:net';

/** Resolves with a port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
