// The live view's client of the /v1 API: the key (kept for this tab in sessionStorage and sent as
// `Authorization: Bearer`), JSON requests with the API's error body turned into an Error, and a run's
// Server-Sent-Event stream read with fetch (EventSource cannot send the key) and parsed by eventsource-parser.
import { createParser } from '/assets/eventsource-parser.js';

const KEY = 'llmo.key';

/** The API key of this tab, or ''. */
export const getKey = () => sessionStorage.getItem(KEY) ?? '';
/** Keeps the key for this tab (cleared when the tab closes). */
export const setKey = (key) => (key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY));

/** An API failure: `status`, and the error body's `code`, `message` and `issues`. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message ?? `the server answered ${status}`);
    this.status = status;
    this.code = e.code ?? `HTTP_${status}`;
    this.issues = e.issues ?? [];
  }
}

const headers = (extra = {}) => ({ authorization: `Bearer ${getKey()}`, ...extra });

/** GET or POST JSON under /v1; rejects with an ApiError on a non-2xx answer. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** `encodeURIComponent` for a path segment. */
export const seg = encodeURIComponent;

/**
 * Follows a run's stream (`GET /v1/runs/:id/stream`) until its `end` message or `signal` aborts:
 * `onEvent(type, data, id)` for every message. When the connection drops first, it reconnects with
 * `Last-Event-ID` (a few times, waiting a little longer each time). Resolves with the end's data.
 */
export async function followRun(runId, { onEvent, signal }) {
  let lastId;
  for (let attempt = 0; ; attempt++) {
    let ended;
    let failure; // the server's `event: error` (it could not read the run): not retried
    const parser = createParser({
      onEvent(m) {
        if (m.id !== undefined) lastId = m.id;
        let data;
        try {
          data = JSON.parse(m.data);
        } catch {
          data = m.data;
        }
        if (m.event === 'end') ended = data ?? {};
        else if (m.event === 'error') failure = new ApiError(500, data);
        else onEvent(m.event ?? 'message', data, m.id);
      },
    });
    try {
      const res = await fetch(`/v1/runs/${seg(runId)}/stream`, {
        headers: headers({ accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'last-event-id': lastId }) }),
        signal,
      });
      if (!res.ok) {
        let body;
        try { body = await res.json(); } catch { body = undefined; }
        throw new ApiError(res.status, body);
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
        if (failure !== undefined) {
          reader.cancel().catch(() => {});
          throw failure;
        }
        if (ended !== undefined) {
          reader.cancel().catch(() => {});
          return ended;
        }
      }
      if (ended !== undefined) return ended;
    } catch (e) {
      if (signal?.aborted || e === failure || (e instanceof ApiError && e.status < 500)) throw e;
      if (attempt >= 4) throw e;
    }
    if (attempt >= 4) throw new Error('the run stream kept closing before the run ended');
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
  }
}
