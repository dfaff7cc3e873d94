// STAND-IN for a schema registry, used by registry.int.test.ts because no real one can be had on this
// machine (Apicurio Registry 3.x is not installable from the Maven Central mirror here: see the test's
// header). It implements only the few endpoints of the Confluent-compatible API (the ones Apicurio serves
// under /apis/ccompat/v7) that @kafkajs/confluent-schema-registry calls for register / lookup / getSchema,
// with Confluent's status codes and error bodies, and keeps everything in memory:
//   POST /subjects/{s}            look a schema up under a subject (404 40401 / 40403 when absent)
//   POST /subjects/{s}/versions   register (the same schema text keeps its global id)
//   GET  /config/{s}              per-subject compatibility (404 40408 when never set)
//   PUT  /config/{s}              set it
//   GET  /schemas/ids/{id}        the schema (404 40403)
// It does no compatibility checking. Every request is recorded, so a test can see what the client asked.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface StandInRegistry {
  readonly url: string;
  /** `METHOD path` of every request, in order. */
  readonly requests: string[];
  /** Subject → ids registered under it, in order. */
  readonly subjects: Map<string, number[]>;
  /** Id → schema text. */
  readonly schemas: Map<number, string>;
  /** Stops answering (connections are refused) and keeps the state; `resume` listens on the same port again. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

const TYPE = 'application/vnd.schemaregistry.v1+json';

function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
      try {
        resolve(text === '' ? {} : (JSON.parse(text) as Record<string, unknown>));
      } catch (e) {
        reject(e as Error);
      }
    }).on('error', reject);
  });
}

/** Starts the stand-in on 127.0.0.1 (a free port, or `port`). */
export async function startStandInRegistry(port = 0): Promise<StandInRegistry> {
  const requests: string[] = [];
  const subjects = new Map<string, number[]>();
  const schemas = new Map<number, string>();
  const config = new Map<string, string>();
  const send = (res: ServerResponse, status: number, payload: unknown): void => {
    res.writeHead(status, { 'content-type': TYPE }).end(JSON.stringify(payload));
  };
  const notFound = (res: ServerResponse, code: number, message: string): void => send(res, 404, { error_code: code, message });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.split('/').map(decodeURIComponent);
    requests.push(`${req.method} ${url.pathname}`);
    void (async () => {
      try {
        if (req.method === 'GET' && path[1] === 'schemas' && path[2] === 'ids' && path.length === 4) {
          const s = schemas.get(Number(path[3]));
          return s === undefined ? notFound(res, 40403, 'Schema not found') : send(res, 200, { schema: s });
        }
        if (path[1] === 'config' && path.length === 3) {
          if (req.method === 'GET') {
            const c = config.get(path[2]!);
            return c === undefined ? notFound(res, 40408, `Subject '${path[2]}' does not have subject-level compatibility configured`) : send(res, 200, { compatibilityLevel: c });
          }
          if (req.method === 'PUT') {
            const { compatibility } = await body(req);
            config.set(path[2]!, String(compatibility));
            return send(res, 200, { compatibility });
          }
        }
        if (req.method === 'POST' && path[1] === 'subjects' && (path.length === 3 || (path.length === 4 && path[3] === 'versions'))) {
          const subject = path[2]!;
          const { schema } = await body(req);
          if (typeof schema !== 'string') return send(res, 422, { error_code: 42201, message: 'Invalid schema' });
          const text = JSON.stringify(JSON.parse(schema));
          let id = [...schemas].find(([, s]) => s === text)?.[0];
          const ids = subjects.get(subject) ?? [];
          if (path.length === 3) { // lookup
            if (!subjects.has(subject)) return notFound(res, 40401, `Subject '${subject}' not found.`);
            if (id === undefined || !ids.includes(id)) return notFound(res, 40403, 'Schema not found');
            return send(res, 200, { subject, id, version: ids.indexOf(id) + 1, schema: text });
          }
          if (id === undefined) schemas.set((id = schemas.size + 1), text);
          if (!ids.includes(id)) subjects.set(subject, [...ids, id]);
          return send(res, 200, { id });
        }
        return notFound(res, 404, `no such endpoint in the stand-in: ${req.method} ${url.pathname}`);
      } catch (e) {
        return send(res, 500, { error_code: 50001, message: (e as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as { port: number };
  const stop = (): Promise<void> => new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return {
    url: `http://127.0.0.1:${bound}`,
    requests, subjects, schemas,
    pause: stop,
    resume: () => new Promise<void>((resolve) => (server.listening ? resolve() : server.listen(bound, '127.0.0.1', resolve))),
    close: stop,
  };
}
