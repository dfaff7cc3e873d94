/**
 * Shared transport of the HTTP providers: POST a JSON request, classify a
 * non-2xx answer, parse the server-sent events with eventsource-parser, and let
 * an API-specific decoder turn each event into provider events. A stream that
 * ends before the decoder saw its end marker is a retriable failure.
 * @module
 */
import { Observable } from 'rxjs';
import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';
import { ProviderError } from '../errors.ts';
import { onAbort } from '../primitives/abort.ts';
import { BAD_STREAM, httpError, parseRateLimit, REQUEST_INVALID, STREAM_INTERRUPTED, streamError, transportError, type CallSite } from './failures.ts';
import { scrubError } from './secrets.ts';
import type { ProviderEvent } from './types.ts';

/**
 * Turns SSE messages of one API into provider events.
 *
 * @example
 * ```ts
 * const decoder: SseDecoder = { ended: false, decode: (m) => [{ type: 'text', text: m.data }] };
 * ```
 */
export interface SseDecoder {
  /** Events for one SSE message; throws a ProviderError for an error inside the stream. */
  decode(message: EventSourceMessage): readonly ProviderEvent[];
  /** True once the API's end marker (`[DONE]`, `message_stop`) was seen. */
  readonly ended: boolean;
}

/**
 * One HTTP streaming call.
 *
 * @example
 * ```ts
 * const call: SseCall = { url, headers: { authorization: `Bearer ${key}` }, body, site, fetch, endMarker: '[DONE]' };
 * ```
 */
export interface SseCall {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly site: CallSite;
  readonly fetch: typeof fetch;
  /** What the stream should end with, for the error message. */
  readonly endMarker: string;
  /** The provider's credentials (`secretsOf`): scrubbed from every error the call raises. */
  readonly secrets?: readonly string[];
}

/**
 * Streams one call as provider events. Unsubscribing or aborting `signal` aborts the request.
 *
 * @example
 * ```ts
 * streamSse({ url, headers, body, site, fetch, endMarker: '[DONE]' }, signal, () => new MyDecoder());
 * ```
 */
export function streamSse(call: SseCall, signal: AbortSignal | undefined, makeDecoder: () => SseDecoder): Observable<ProviderEvent> {
  return new Observable<ProviderEvent>((subscriber) => {
    const ctl = new AbortController();
    if (signal?.aborted) ctl.abort(signal.reason); // now, not on the next tick as onAbort would
    const unlisten = onAbort(signal, (reason) => ctl.abort(reason));
    const aborted = (): unknown => (ctl.signal.reason as unknown) ?? new Error('aborted');

    const run = async (): Promise<void> => {
      let res: Response;
      try {
        res = await call.fetch(call.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...call.headers },
          body: JSON.stringify(call.body),
          signal: ctl.signal,
        });
      } catch (e) {
        if (ctl.signal.aborted) throw aborted();
        // undici reports network faults as `TypeError: fetch failed` (with the cause); any other TypeError
        // is a request it refused to send (an invalid header or URL): configuration, never worth a retry
        if (e instanceof TypeError && e.message !== 'fetch failed') throw new ProviderError(REQUEST_INVALID.code, `request refused before sending: ${e.message}`, REQUEST_INVALID.retriable, { ...call.site, cause: e });
        throw transportError(e, call.site, false);
      }
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        throw httpError(res.status, text, res.headers, call.site);
      }
      if ((res.headers.get('content-type') ?? '').includes('application/json')) {
        // A server that ignored `stream: true`, or answered an error with status 200: not worth retrying blindly.
        const text = await res.text().catch(() => '');
        let payload: unknown;
        try { payload = JSON.parse(text); } catch { payload = undefined; }
        if ((payload as { error?: unknown } | undefined)?.error !== undefined) throw streamError(payload, call.site);
        throw new ProviderError(BAD_STREAM.code, 'the server answered with JSON instead of an event stream (does it support stream: true?)', BAD_STREAM.retriable, call.site);
      }
      const requestId = res.headers.get('x-request-id') ?? res.headers.get('request-id') ?? undefined;
      subscriber.next({ type: 'response', status: res.status, rateLimit: parseRateLimit(res.headers), ...(requestId === undefined ? {} : { requestId }) });
      if (res.body === null) throw transportError(new Error('response has no body'), call.site, true);
      const decoder = makeDecoder();
      const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      try {
        while (!decoder.ended) {
          let step: Awaited<ReturnType<typeof reader.read>>;
          try {
            step = await reader.read();
          } catch (e) {
            throw ctl.signal.aborted ? aborted() : transportError(e, call.site, true);
          }
          if (step.done) break;
          const events = decoder.decode(step.value);
          for (let i = 0; i < events.length; i++) subscriber.next(events[i]!);
        }
      } finally {
        reader.cancel().catch(() => undefined);
      }
      if (!decoder.ended) {
        throw new ProviderError(STREAM_INTERRUPTED.code, `stream closed before ${call.endMarker}`, STREAM_INTERRUPTED.retriable, call.site);
      }
      subscriber.complete();
    };
    run().catch((e: unknown) => subscriber.error(call.secrets === undefined ? e : scrubError(e, call.secrets)));
    return () => {
      unlisten();
      ctl.abort(new Error('unsubscribed'));
    };
  });
}
