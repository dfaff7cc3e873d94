/**
 * Checks of the HTTP providers' options, made when a provider is created: a key or header
 * that HTTP cannot carry (a line break, a NUL, a space in a key) is a configuration error
 * then, naming the field and never quoting the value, instead of a "connection failed"
 * retried on every call with the key in its message.
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name is an HTTP token (letters, digits and !#$%&\'*+.^_`|~-)');
const headerValue = z.string().refine((v) => !/[\r\n\0]/.test(v), 'a header value must not contain CR, LF or NUL');

/**
 * Schema of the options every HTTP provider shares.
 *
 * @example
 * ```ts
 * HttpProviderOptionsSchema.safeParse({ apiKey: 'sk-\n' }).success; // false: the issue names apiKey, not the key
 * ```
 */
export const HttpProviderOptionsSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][\w.-]*$/, 'a provider name is an identifier (it prefixes model references)').optional(),
  baseUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  apiKey: z.string().min(1).regex(/^[\x21-\x7e]+$/, 'an API key is printable ASCII without spaces, line breaks or control characters (check how it was pasted or read)').optional(),
  headers: z.record(headerName, headerValue).optional(),
  fetch: z.custom<typeof fetch>((v) => typeof v === 'function', 'expected a fetch function').optional(),
});

/**
 * Checks a provider's options; throws {@link ValidationError} `OPTIONS_INVALID` naming each bad field
 * (messages never include the values, so a key never lands in an error or a log).
 *
 * @example
 * ```ts
 * const o = parseProviderOptions(OpenAIOptionsSchema, options, 'openai');
 * ```
 */
export function parseProviderOptions<S extends z.ZodType>(schema: S, options: unknown, provider: string): z.output<S> {
  const r = schema.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', `options of the ${provider} provider are invalid`, toIssues(r.error.issues, ['options']));
  return r.data;
}
