/**
 * `stage`: the RxJS operator behind every DAG node. Like `mergeMap` with a
 * concurrency cap, but its buffer is a priority queue with aging, and the work
 * for an item reports completion through a callback (sync or async) instead of
 * an inner Observable, so a node costs no subscription per run. Items wait in
 * the buffer only while the stage is at its cap; run admission bounds how many
 * items can ever be waiting.
 * @module
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { Limiter, type Level } from '../primitives/limiter.ts';
import type { FlowWeight } from '../primitives/fair-queue.ts';

/** Configuration of one stage. */
export interface StageConfig<T> {
  /** Most items worked on at once. `Infinity` for no cap. */
  readonly cap: number;
  /** Priority of an item waiting for a slot. */
  readonly level: (item: T) => Level;
  /** The item's flow (its run's tenant): waiters of one priority are served fairly between flows. */
  readonly flow?: (item: T) => string | undefined;
  /** Starts work on an item; must call `done` exactly once, synchronously or later. */
  readonly work: (item: T, done: () => void) => void;
  /** Grants after which a waiting item is served regardless of priority. */
  readonly agingGrants?: number;
  /** Share of each flow among waiters of one priority. Default: equal. */
  readonly weight?: FlowWeight | undefined;
}

/**
 * Creates a stage operator. Emits each item once its work is done.
 *
 * @example
 * ```ts
 * input$.pipe(stage({ cap: 4, level: () => 1, work: (job, done) => void doIt(job).finally(done) }))
 *   .subscribe((job) => console.log('finished', job));
 * ```
 */
export function stage<T>(config: StageConfig<T>): MonoTypeOperatorFunction<T> {
  const { cap, level, work } = config;
  const flow = config.flow;
  return (source) =>
    new Observable<T>((subscriber) => {
      let sourceDone = false;
      let closed = false;
      const idle = (): boolean => limiter.active === 0 && limiter.queued === 0;
      const start = (item: T): void => {
        if (closed) return limiter.release();
        try {
          work(item, () => {
            // Emit first, then free the slot: the item is out before a waiting one can finish the stage.
            subscriber.next(item);
            limiter.release();
            if (sourceDone && idle()) subscriber.complete();
          });
        } catch (err) {
          closed = true;
          subscriber.error(err);
        }
      };
      const limiter = new Limiter<T>(cap, start, {
        ...(config.agingGrants === undefined ? {} : { agingGrants: config.agingGrants }),
        ...(config.weight === undefined ? {} : { weight: config.weight }),
      });
      const sub = source.subscribe({
        next: (item) => {
          if (limiter.submit(item, level(item), flow?.(item)) === 'granted') start(item);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (idle()) subscriber.complete();
        },
      });
      return () => {
        closed = true;
        sub.unsubscribe();
      };
    });
}
