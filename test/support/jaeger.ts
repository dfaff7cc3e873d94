// Reading traces back from a real Jaeger (scripts/jaeger-local.sh, or the docker-compose service) in
// integration tests. Jaeger v2 (module v1.75.0, release 2.12.0) serves two HTTP query APIs:
//   /api/v3/traces/<id>   the trace as OTLP JSON (typed attribute values: arrays stay arrays, kinds, status)
//   /api/traces?service=  the UI's search (the only one that filters by tags); it returns Jaeger JSON
// getTrace reads v3; findTraces searches with the UI's API, then reads each trace with v3.
// Spans reach the store after the exporter's request and Jaeger's batch processor: every read polls, a
// bounded number of times, until what the caller waits for is there, then fails naming what it saw.

/** Endpoints of a Jaeger the tests export to and query: from LLMO_JAEGER_OTLP and LLMO_JAEGER_QUERY. */
export interface JaegerEnv {
  /** OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (traces go to `${otlp}/v1/traces`). */
  readonly otlp: string;
  /** Query service base URL, e.g. http://127.0.0.1:16686. */
  readonly query: string;
}

/**
 * The Jaeger the environment names, or why there is none (`bash scripts/jaeger-local.sh start` prints the variables).
 *
 * @example
 * ```ts
 * const jaeger = jaegerEnv();
 * describe.skipIf(!jaeger.ok)(`tracing${jaeger.ok ? '' : ` (skipped: ${jaeger.reason})`}`, () => { ... });
 * ```
 */
export function jaegerEnv(env: Readonly<Record<string, string | undefined>> = process.env): ({ ok: true } & JaegerEnv) | { ok: false; reason: string } {
  const otlp = env.LLMO_JAEGER_OTLP?.trim() ?? '';
  const query = env.LLMO_JAEGER_QUERY?.trim() ?? '';
  const missing = [otlp === '' ? 'LLMO_JAEGER_OTLP' : '', query === '' ? 'LLMO_JAEGER_QUERY' : ''].filter((s) => s !== '');
  if (missing.length > 0) return { ok: false, reason: `${missing.join(' and ')} unset (bash scripts/jaeger-local.sh start prints them)` };
  return { ok: true, otlp: otlp.replace(/\/+$/, ''), query: query.replace(/\/+$/, '') };
}

/** An attribute value as OTLP carries it (int64 values become numbers). */
export type AttrValue = string | number | boolean | readonly AttrValue[] | null;

/** One span as stored in Jaeger. */
export interface StoredSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** The exporting process's `service.name`. */
  readonly service: string;
  /** The instrumentation scope (tracer name). */
  readonly scope: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly events: readonly { readonly name: string; readonly attributes: Readonly<Record<string, AttrValue>> }[];
  readonly status: { readonly code: 'unset' | 'ok' | 'error'; readonly message?: string };
}

/** A trace as stored in Jaeger, its spans in start order. */
export interface StoredTrace {
  readonly traceId: string;
  readonly spans: readonly StoredSpan[];
}

/** Polling of the query helpers: `attempts` reads `intervalMs` apart at most. */
export interface PollOptions {
  /** Reads at most (default 60). */
  readonly attempts?: number;
  /** Between reads, ms (default 250). */
  readonly intervalMs?: number;
}

/** What {@link JaegerQuery.getTrace} waits for. */
export interface GetTraceOptions extends PollOptions {
  /** The trace is returned once this holds (default: it has at least one span). */
  readonly until?: (trace: StoredTrace) => boolean;
}

/** A search of {@link JaegerQuery.findTraces}. */
export interface FindTracesOptions extends PollOptions {
  /** `service.name` of a span in the trace. */
  readonly service: string;
  /** Attributes one span of that service must have (string-compared by Jaeger). */
  readonly tags?: Readonly<Record<string, string | number | boolean>>;
  /** Span name (Jaeger's operation) of that span. */
  readonly operation?: string;
  /** How far back to search, ms (default one hour). */
  readonly lookbackMs?: number;
  /** Most traces returned (default 20). */
  readonly limit?: number;
  /** The traces are returned once this holds (default: at least one was found). */
  readonly until?: (traces: readonly StoredTrace[]) => boolean;
}

/** Query helpers bound to one Jaeger. */
export interface JaegerQuery {
  /** Reads a trace by id (32 hex digits), polling until it exists and `until` holds. */
  getTrace(traceId: string, options?: GetTraceOptions): Promise<StoredTrace>;
  /** Searches traces by service (and span attributes / name), polling until `until` holds. */
  findTraces(options: FindTracesOptions): Promise<StoredTrace[]>;
  /** Service names Jaeger has seen. */
  services(): Promise<string[]>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const KINDS: readonly StoredSpan['kind'][] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS: readonly StoredSpan['status']['code'][] = ['unset', 'ok', 'error'];

/** An OTLP JSON attribute value. */
export interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
}
/** An OTLP JSON attribute. */
export interface OtlpKeyValue { key: string; value?: OtlpAnyValue }
/** An OTLP JSON span. */
export interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number;
  startTimeUnixNano: string; endTimeUnixNano: string;
  attributes?: OtlpKeyValue[]; events?: { name: string; attributes?: OtlpKeyValue[] }[];
  status?: { code?: number; message?: string };
}
/** An OTLP JSON traces document (what Jaeger's /api/v3/traces/<id> answers under `result`). */
export interface OtlpTraces {
  resourceSpans?: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[] }[];
}

function valueOf(v: OtlpAnyValue | undefined): AttrValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(valueOf);
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.kvlistValue !== undefined) return JSON.stringify(attrs(v.kvlistValue.values));
  return null;
}

function attrs(kvs: readonly OtlpKeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = valueOf(kv.value);
  return out;
}

/** The spans of an OTLP JSON traces document (Jaeger's /api/v3 answer), in start order. */
export function spansOfOtlp(doc: OtlpTraces): StoredSpan[] {
  const spans: StoredSpan[] = [];
  for (const rs of doc.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId === undefined || s.parentSpanId === '' ? undefined : s.parentSpanId,
          name: s.name,
          kind: KINDS[s.kind ?? 0] ?? 'unspecified',
          service,
          scope: ss.scope?.name ?? '',
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
          status: { code: STATUS[s.status?.code ?? 0] ?? 'unset', ...(s.status?.message === undefined ? {} : { message: s.status.message }) },
        });
      }
    }
  }
  return spans.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
}

/** One line per span (`service: name <- parent name`), for failure messages. */
export function describeTrace(trace: StoredTrace | undefined): string {
  if (trace === undefined) return '(no trace)';
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  return trace.spans.map((s) => {
    const parent = s.parentSpanId === undefined ? '(root)' : byId.get(s.parentSpanId)?.name ?? `(missing ${s.parentSpanId})`;
    return `${s.service}: ${s.name} <- ${parent}`;
  }).join('\n') || '(no spans)';
}

/**
 * Query helpers against Jaeger's HTTP query API at `baseUrl` (e.g. `jaegerEnv().query`).
 *
 * @example
 * ```ts
 * const jaeger = jaegerQuery('http://127.0.0.1:16686');
 * const trace = await jaeger.getTrace(traceId, { until: (t) => t.spans.length >= 5 });
 * ```
 */
export function jaegerQuery(baseUrl: string, defaults: PollOptions = {}): JaegerQuery {
  const base = baseUrl.replace(/\/+$/, '');
  const poll = <T>(options: PollOptions, what: string, read: () => Promise<T | undefined>, done: (x: T) => boolean, show: (x: T | undefined) => string): Promise<T> => {
    const attempts = options.attempts ?? defaults.attempts ?? 60;
    const intervalMs = options.intervalMs ?? defaults.intervalMs ?? 250;
    return (async () => {
      let last: T | undefined;
      for (let i = 1; ; i++) {
        last = await read();
        if (last !== undefined && done(last)) return last;
        if (i >= attempts) break;
        await sleep(intervalMs);
      }
      throw new Error(`Jaeger at ${base}: ${what} not there after ${attempts} reads ${intervalMs} ms apart; last seen:\n${show(last)}`);
    })();
  };

  const getJson = async (path: string, allowNotFound: boolean): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, { headers: { accept: 'application/json' } });
    if (res.status === 404 && allowNotFound) return undefined;
    if (!res.ok) throw new Error(`Jaeger GET ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
    return res.json();
  };

  const readTrace = async (traceId: string): Promise<StoredTrace | undefined> => {
    const doc = (await getJson(`/api/v3/traces/${encodeURIComponent(traceId)}`, true)) as { result?: OtlpTraces } | undefined;
    if (doc?.result === undefined) return undefined;
    return { traceId, spans: spansOfOtlp(doc.result) };
  };

  return {
    getTrace(traceId, options = {}) {
      if (!/^[0-9a-f]{32}$/.test(traceId)) return Promise.reject(new Error(`not a trace id: ${JSON.stringify(traceId)}`));
      const until = options.until ?? ((t: StoredTrace) => t.spans.length > 0);
      return poll(options, `trace ${traceId} (as awaited)`, () => readTrace(traceId), until, describeTrace);
    },

    findTraces(options) {
      const end = Date.now();
      const params = new URLSearchParams({
        service: options.service,
        start: String((end - (options.lookbackMs ?? 3_600_000)) * 1000),
        limit: String(options.limit ?? 20),
      });
      if (options.operation !== undefined) params.set('operation', options.operation);
      if (options.tags !== undefined) params.set('tags', JSON.stringify(Object.fromEntries(Object.entries(options.tags).map(([k, v]) => [k, String(v)]))));
      const until = options.until ?? ((ts: readonly StoredTrace[]) => ts.length > 0);
      return poll(options, `traces of ${params.toString()}`, async () => {
        // end moves with each read: spans exported after the first read are found too
        params.set('end', String(Date.now() * 1000 + 60_000_000));
        const doc = (await getJson(`/api/traces?${params.toString()}`, false)) as { data?: { traceID: string }[] | null };
        const ids = [...new Set((doc.data ?? []).map((t) => t.traceID))];
        const traces = await Promise.all(ids.map((id) => readTrace(id)));
        return traces.filter((t): t is StoredTrace => t !== undefined);
      }, until, (ts) => (ts ?? []).map((t) => `trace ${t.traceId}:\n${describeTrace(t)}`).join('\n') || '(no traces)');
    },

    async services() {
      const doc = (await getJson('/api/services', false)) as { data?: string[] | null };
      return doc.data ?? [];
    },
  };
}
