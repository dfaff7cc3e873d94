/**
 * Test helpers for durable runs: store wrappers that crash, fail or hold writes.
 * @module
 */
import type { RunStore, StoredEvent } from '../../src/runtime/store.ts';

/** A promise that never settles: what a killed process's pending writes look like from the inside. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * A view of `store` that "crashes" once `limit` events were appended (or `limit` writes, with
 * `unit` 'writes'): from then on every call hangs forever (the process is gone; nothing more
 * reaches the store).
 */
export function crashingStore(store: RunStore, limit: number, unit: 'events' | 'writes' = 'events'): RunStore & { readonly crashed: boolean } {
  let appended = 0;
  let crashed = false;
  const gate = <T>(f: () => Promise<T>): Promise<T> => (crashed ? never<T>() : f());
  const write = (events: readonly StoredEvent[], f: () => Promise<void>): Promise<void> => {
    const n = unit === 'writes' ? 1 : events.length;
    if (crashed || appended + n > limit) {
      crashed = true;
      return never();
    }
    appended += n;
    return f();
  };
  return {
    kind: store.kind,
    location: store.location,
    get crashed() { return crashed; },
    // a run's first events ride with its row: they count as appended
    createRun: (r) => write(r.events ?? [], () => store.createRun(r)),
    append: (events: readonly StoredEvent[]) => write(events, () => store.append(events)),
    getRun: (id) => gate(() => store.getRun(id)),
    history: (id, range) => gate(() => store.history(id, range)),
    listRuns: (q) => gate(() => store.listRuns(q)),
    claim: (r) => gate(() => store.claim(r)),
    renew: (o, ids, ms, now) => gate(() => store.renew(o, ids, ms, now)),
    release: (o, ids) => gate(() => store.release(o, ids)),
    deleteRuns: (r) => gate(() => store.deleteRuns(r)),
    close: () => gate(() => store.close()),
  };
}

/** A view of `store` whose appends go through `hook` (to fail, delay or observe them). */
export function hookedStore(store: RunStore, hook: (events: readonly StoredEvent[], forward: () => Promise<void>) => Promise<void>): RunStore {
  return {
    kind: store.kind,
    location: store.location,
    // a run's first events ride with its row: the hook sees them as it sees appends
    createRun: (r) => (r.events === undefined || r.events.length === 0 ? store.createRun(r) : hook(r.events, () => store.createRun(r))),
    append: (events) => hook(events, () => store.append(events)),
    getRun: (id) => store.getRun(id),
    history: (id, range) => store.history(id, range),
    listRuns: (q) => store.listRuns(q),
    claim: (r) => store.claim(r),
    renew: (o, ids, ms, now) => store.renew(o, ids, ms, now),
    release: (o, ids) => store.release(o, ids),
    deleteRuns: (r) => store.deleteRuns(r),
    close: () => store.close(),
  };
}

/** Waits until `check` holds, polling on timers (bounded by the test's own timeout). */
export async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 2));
}
