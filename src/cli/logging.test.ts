import { ROOT_CONTEXT, context, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliLogger, levelOf, parseLogLevels, type LogLevels } from './logging.ts';
import { createScrubber, secretsFromEnv } from './scrub.ts';

/** A synchronous context manager: enough for `context.with` around synchronous code. */
class StackContextManager implements ContextManager {
  #stack: Context[] = [];
  active(): Context { return this.#stack.at(-1) ?? ROOT_CONTEXT; }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    this.#stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T { return target; }
  enable(): this { return this; }
  disable(): this { this.#stack = []; return this; }
}

/** A pino destination collecting the parsed lines. */
function lines(): { destination: { write(s: string): void }; all: () => Record<string, unknown>[] } {
  const out: string[] = [];
  return { destination: { write: (s: string) => { out.push(s); } }, all: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const levels = (components: LogLevels['components'] = {}, level: LogLevels['level'] = 'info'): LogLevels => ({ level, components });

describe('createCliLogger', () => {
  const manager = new StackContextManager();
  beforeAll(() => { context.setGlobalContextManager(manager.enable()); });
  afterAll(() => { manager.disable(); context.disable(); });

  it('a line written inside an active span carries its trace_id, span_id and trace_flags; one outside none', () => {
    const l = lines();
    const logger = createCliLogger({ levels: levels(), destination: l.destination });
    const tracer = new BasicTracerProvider().getTracer('test');
    const span = tracer.startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.info('inside'));
    span.end();
    logger.info('outside');
    const [inside, outside] = l.all();
    expect(inside).toMatchObject({ msg: 'inside', trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, trace_flags: '01' });
    expect(outside!['trace_id']).toBeUndefined();
  });

  it('per-component levels: LOG_LEVELS=kafka=warn,worker=debug over LOG_LEVEL=info', () => {
    const parsed = parseLogLevels({ LOG_LEVEL: 'info', LOG_LEVELS: 'kafka=warn, worker=debug' });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const l = lines();
    const logger = createCliLogger({ levels: parsed.value, destination: l.destination });
    const kafka = logger.child({ component: 'kafka-transport' });
    kafka.info('kafka info: dropped');
    kafka.warn('kafka warn: kept');
    kafka.child({ topic: 't' }).info('kafka grandchild info: dropped');
    const worker = logger.child({ component: 'worker', worker: 'w1' });
    worker.debug('worker debug: kept');
    logger.child({ component: 'engine' }).debug('engine debug: dropped');
    logger.child({ component: 'engine' }).info('engine info: kept');
    expect(l.all().map((x) => x['msg'])).toEqual(['kafka warn: kept', 'worker debug: kept', 'engine info: kept']);
  });

  it('levelOf: an exact entry wins over a part, the longest part over a shorter one', () => {
    const c = { worker: 'debug', 'worker-loop': 'error', kafka: 'warn' } as const;
    expect(levelOf('worker-loop', c)).toBe('error');
    expect(levelOf('remote-worker', c)).toBe('debug');
    expect(levelOf('kafka-transport', c)).toBe('warn');
    expect(levelOf('engine', c)).toBeUndefined();
    expect(levelOf('kafkaesque', c)).toBeUndefined();
  });

  it('bad LOG_LEVEL and LOG_LEVELS entries are issues naming the variable and component', () => {
    const r = parseLogLevels({ LOG_LEVEL: 'loud', LOG_LEVELS: 'kafka=chatty,=debug' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path.join('.'))).toEqual(['LOG_LEVEL', 'LOG_LEVELS.kafka', 'LOG_LEVELS']);
    expect(r.issues[0]!.message).toContain('"loud"');
  });

  it('scrubs key-like strings, held credentials and authorization headers from messages, fields and errors', () => {
    const l = lines();
    const openai = `sk-proj-${'a1B2'.repeat(8)}`;
    const password = 'correct-horse-battery';
    const logger = createCliLogger({ levels: levels(), destination: l.destination, env: { KAFKA_SASL_PASSWORD: password, HOME: '/root' } });
    logger.info({ headers: { authorization: 'Bearer tok-123456789', accept: 'json' }, apiKey: 'plain-key-value' }, `calling with ${openai}`);
    logger.warn({ detail: { note: `sasl ${password} refused` } }, 'login');
    logger.error(new Error(`401 for key ${openai}`));
    logger.error({ err: new Error(`proxy said Authorization: Bearer abcdefgh.ijkl.mnop`) }, 'upstream');
    const text = l.all().map((x) => JSON.stringify(x)).join('\n');
    expect(text).not.toContain(openai);
    expect(text).not.toContain(password);
    expect(text).not.toContain('tok-123456789');
    expect(text).not.toContain('plain-key-value');
    expect(text).not.toContain('abcdefgh.ijkl.mnop');
    const [first, second, third, fourth] = l.all();
    expect(first).toMatchObject({ msg: 'calling with [redacted]', headers: { authorization: '[redacted]', accept: 'json' }, apiKey: '[redacted]' });
    expect(second).toMatchObject({ detail: { note: 'sasl [redacted] refused' } });
    expect(third).toMatchObject({ msg: '401 for key [redacted]', err: { message: '401 for key [redacted]' } });
    expect((third!['err'] as { stack: string }).stack).not.toContain(openai);
    expect(fourth).toMatchObject({ msg: 'upstream', err: { message: 'proxy said Authorization: Bearer [redacted]' } });
  });
});

describe('secrets', () => {
  it('secretsFromEnv: credential-named variables and OTLP header values', () => {
    const s = secretsFromEnv({
      OPENAI_API_KEY: 'sk-abcdef123', KAFKA_SASL_PASSWORD: 'pw-123456', KAFKA_SSL_KEY_FILE: '/etc/key.pem', PATH: '/usr/bin',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20otlp-token-1,x-tenant=acme', SHORT_TOKEN: 'abc',
    });
    expect(new Set(s)).toEqual(new Set(['Bearer otlp-token-1', 'otlp-token-1', 'pw-123456', 'sk-abcdef123']));
  });

  it('createScrubber leaves ordinary text alone', () => {
    const scrub = createScrubber([]);
    expect(scrub('run cli-123 completed in 5 ms')).toBe('run cli-123 completed in 5 ms');
    expect(scrub('key sk-abc')).toBe('key sk-abc');
  });
});
