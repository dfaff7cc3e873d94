/**
 * Options of the HTTP server ({@link createServer}): where it listens and the limits
 * that keep it serving under bad input and abuse.
 * @module
 */
import * as z from 'zod';

/**
 * Schema of {@link ServerOptions}; every field has a default.
 *
 * @example
 * ```ts
 * const o = ServerOptionsSchema.parse({ port: 0 });
 * ```
 */
export const ServerOptionsSchema = z.object({
  /** Interface to listen on. Default 127.0.0.1 (this machine only). */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port; 0 picks a free one. Default 8787. */
  port: z.number().int().min(0).max(65_535).default(8787),
  /** Largest request body in bytes; larger ones get 413. Default 1 MiB. */
  bodyLimit: z.number().int().positive().default(1_048_576),
  /** Open connections at most; more are refused by the socket server. Default 10,000. */
  maxConnections: z.number().int().positive().default(10_000),
  /** Server-Sent-Event streams open at once at most (all keys); more get 503. Default 5,000. */
  maxStreams: z.number().int().positive().default(5_000),
  /** Streams open at once per key at most; more get 429. Default 1,000. */
  maxStreamsPerKey: z.number().int().positive().default(1_000),
  /** Bytes a stream may have queued unsent for a client that stops reading before it is dropped. Default 1 MiB. */
  streamBufferBytes: z.number().int().positive().default(1_048_576),
  /** Requests per key per window at most; more get 429 with `retry-after`. */
  rateLimit: z.object({
    max: z.number().int().positive().default(1_200),
    windowMs: z.number().int().positive().default(60_000),
  }).prefault({}),
  /**
   * Failed authentications per client address per window at most; more get 429 with
   * `retry-after` until the window ends, before any key is checked. Default 60 per 60 s.
   */
  failedAuthLimit: z.object({
    max: z.number().int().positive().default(60),
    windowMs: z.number().int().positive().default(60_000),
  }).prefault({}),
  /**
   * Which proxies in front of the server to trust for the client's address (`X-Forwarded-For`),
   * which the failed-authentication limit counts by: `true` (every hop), a number of hops, or
   * the proxies' addresses and CIDR ranges (preferred: `true` believes the header from any
   * sender, who could then name any address). Default `false`: the socket's peer address, so
   * behind a load balancer every client would count as the balancer.
   */
  trustProxy: z.union([z.boolean(), z.number().int().positive(), z.array(z.string().min(1)).min(1)]).default(false),
  /**
   * Browser origins allowed to call the API from their pages (CORS), such as
   * `https://app.example.com`, or `['*']` for any. Preflights are answered before authentication
   * (a browser sends them without the key). Default none: no CORS headers, so only pages the
   * server itself serves (the live view) can call it.
   */
  corsOrigins: z.array(z.string().regex(/^\*$|^https?:\/\/[^/?#\s]+$/, 'an origin is scheme://host[:port] (no path), or *')).min(1).optional(),
  /** How long `POST /v1/runs` with `wait` waits for the result at most (then 202 with the run's id). Default 60 s. */
  waitTimeoutMs: z.number().int().positive().default(60_000),
  /** Serve HTTPS with this PEM certificate and key. */
  tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
}).strict();

/**
 * Server options, as given ({@link ServerOptionsSchema} fills the defaults).
 *
 * @example
 * ```ts
 * const o: ServerOptions = { port: 8787, rateLimit: { max: 100 } };
 * ```
 */
export type ServerOptions = z.input<typeof ServerOptionsSchema>;

/**
 * Server options with every default filled.
 *
 * @example
 * ```ts
 * const o: ParsedServerOptions = ServerOptionsSchema.parse({});
 * ```
 */
export type ParsedServerOptions = z.output<typeof ServerOptionsSchema>;
