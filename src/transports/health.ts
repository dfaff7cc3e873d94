/**
 * Health of the parts of a transport or worker (consumers, the producer, the
 * publisher): each part sets its own status; the report is `down` when any part
 * is down, `degraded` when any is degraded, else `up`. Changes are also a stream,
 * so a CLI can serve `/healthz` and a test can wait for red without polling.
 * Transport events (a publish that failed, a consumer that crashed, a record
 * dead-lettered) are the other half: what happened, as data, never only a log line.
 * @module
 */
import { BehaviorSubject, combineLatest, map, type Observable } from 'rxjs';

/**
 * Status of one part, or of the whole.
 *
 * @example
 * ```ts
 * const s: HealthStatus = report.status; // 'up' | 'degraded' | 'down'
 * ```
 */
export type HealthStatus = 'up' | 'degraded' | 'down';

/**
 * One part's status, since when, and why (when not up).
 *
 * @example
 * ```ts
 * const c: ComponentHealth = { status: 'down', since: Date.now(), reason: 'consumer of llmo.run-requests crashed' };
 * ```
 */
export interface ComponentHealth {
  readonly status: HealthStatus;
  readonly since: number;
  readonly reason?: string;
}

/**
 * The whole: the worst status of the parts, and each part by name.
 *
 * @example
 * ```ts
 * const r: HealthReport = worker.health.report();
 * if (r.status === 'down') process.exitCode = 1;
 * ```
 */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly components: Readonly<Record<string, ComponentHealth>>;
}

/**
 * Something whose health can be read now and watched.
 *
 * @example
 * ```ts
 * transport.health.changes$.subscribe((r) => log.info({ health: r.status }));
 * ```
 */
export interface Health {
  /** The report now. */
  report(): HealthReport;
  /** The report now and after every change. */
  readonly changes$: Observable<HealthReport>;
}

/**
 * A {@link Health} whose parts set their own status.
 *
 * @example
 * ```ts
 * const board = createHealthBoard();
 * board.set('producer', 'down', 'out of order sequence number');
 * board.set('producer', 'up');
 * ```
 */
export interface HealthBoard extends Health {
  /** Sets a part's status; `since` changes only when the status does. */
  set(component: string, status: HealthStatus, reason?: string): void;
  /** Forgets a part (e.g. a consumer that was stopped on purpose). */
  remove(component: string): void;
}

const RANK: Record<HealthStatus, number> = { up: 0, degraded: 1, down: 2 };
const STATUS: readonly HealthStatus[] = ['up', 'degraded', 'down'];

function worst(components: Readonly<Record<string, ComponentHealth>>): HealthStatus {
  let r = 0;
  for (const c of Object.values(components)) r = Math.max(r, RANK[c.status]);
  return STATUS[r]!;
}

/**
 * Creates a health board; `now` is injectable for tests.
 *
 * @example
 * ```ts
 * const board = createHealthBoard();
 * board.set('consumer:llmo.run-requests', 'up');
 * board.report().status; // 'up'
 * ```
 */
export function createHealthBoard(now: () => number = Date.now): HealthBoard {
  const state = new BehaviorSubject<HealthReport>({ status: 'up', components: {} });
  const publish = (components: Record<string, ComponentHealth>): void => state.next({ status: worst(components), components });
  return {
    report: () => state.value,
    changes$: state.asObservable(),
    set(component, status, reason) {
      const prev = state.value.components[component];
      if (prev !== undefined && prev.status === status && prev.reason === reason) return;
      const since = prev !== undefined && prev.status === status ? prev.since : now();
      publish({ ...state.value.components, [component]: reason === undefined ? { status, since } : { status, since, reason } });
    },
    remove(component) {
      if (!(component in state.value.components)) return;
      const { [component]: _gone, ...rest } = state.value.components;
      publish(rest);
    },
  };
}

/**
 * One health of several, parts named `<prefix>.<part>` (e.g. a worker's own parts and its transport's).
 *
 * @example
 * ```ts
 * const all = mergeHealth({ worker: board, transport: transport.health });
 * all.report().components['transport.producer'];
 * ```
 */
export function mergeHealth(parts: Readonly<Record<string, Health>>): Health {
  const entries = Object.entries(parts);
  const merge = (reports: readonly HealthReport[]): HealthReport => {
    const components: Record<string, ComponentHealth> = {};
    reports.forEach((r, i) => {
      for (const [name, c] of Object.entries(r.components)) components[`${entries[i]![0]}.${name}`] = c;
    });
    return { status: worst(components), components };
  };
  return {
    report: () => merge(entries.map(([, h]) => h.report())),
    changes$: combineLatest(entries.map(([, h]) => h.changes$)).pipe(map(merge)),
  };
}

/**
 * What happened in a transport that a user must be able to see and act on, as data.
 *
 * @example
 * ```ts
 * transport.events$.subscribe((e) => { if (e.type === 'publish.failed') alert(e.reason); });
 * ```
 */
export type TransportEvent =
  /** An existing topic's settings differ from the asked ones in a harmless way (harmful ones fail with `TOPIC_MISMATCH`, see ensureTopics). */
  | { readonly type: 'topic.mismatch'; readonly topic: string; readonly setting: string; readonly has: string; readonly asked: string; readonly message: string; readonly ts: number }
  /** A send failed after the client's own retries; `messages` were not written. */
  | { readonly type: 'publish.failed'; readonly topic: string; readonly messages: number; readonly reason: string; readonly retriable: boolean; readonly ts: number }
  /** The producer was replaced (e.g. after an out-of-order sequence error on a broker restart). */
  | { readonly type: 'producer.recreated'; readonly reason: string; readonly ts: number }
  /** A group consumer crashed; `restarting` says whether it is being restarted. */
  | { readonly type: 'consumer.crashed'; readonly topic: string; readonly group: string; readonly reason: string; readonly restarting: boolean; readonly ts: number }
  /** A crashed consumer is consuming again. */
  | { readonly type: 'consumer.restarted'; readonly topic: string; readonly group: string; readonly ts: number }
  /** A record was written to the dead-letter topic; `truncated` when its payload had to be cut to fit. */
  | { readonly type: 'dead-lettered'; readonly topic: string; readonly partition: number; readonly offset: string; readonly reason: string; readonly truncated: boolean; readonly ts: number }
  /** Dead-lettering a record failed: it is not done (not committed past) and comes again; the consumer is `down` meanwhile. */
  | { readonly type: 'dead-letter.failed'; readonly topic: string; readonly partition: number; readonly offset: string; readonly reason: string; readonly ts: number }
  /** A handler failed; it will be tried again (`attempt` of `maxAttempts`) or, at the last, dead-lettered. */
  | { readonly type: 'handler.failed'; readonly topic: string; readonly partition: number; readonly offset: string; readonly attempt: number; readonly maxAttempts: number; readonly reason: string; readonly ts: number }
  /** An offset commit failed (e.g. the member was expelled); the records after the last commit will come again. */
  | { readonly type: 'commit.failed'; readonly topic: string; readonly group: string; readonly reason: string; readonly ts: number }
  /** The group is rebalancing; held records are no longer started. */
  | { readonly type: 'rebalance'; readonly topic: string; readonly group: string; readonly phase: 'started' | 'joined'; readonly ts: number };
