/**
 * Admission from a stream of inputs. Iterables and async iterables are pulled
 * only when a run slot frees, so nothing is buffered however fast the source
 * could produce. An Observable cannot be slowed down, so its excess waits in a
 * bounded buffer and overflowing it fails the stream with a clear error.
 * @module
 */
import { isObservable, Observable, takeWhile, type Subscription } from 'rxjs';
import { RejectedError } from '../errors.ts';

/** Anything the streaming entry accepts. */
export type InputSource<T> = Iterable<T> | AsyncIterable<T> | Observable<T>;

/** Starts one run; calls `done` with its result when it ends; returns a canceller. */
export type Launch<T, R> = (input: T, done: (result: R) => void) => () => void;

/**
 * Runs every input of `source` with at most `limit` in flight, emitting results as runs end.
 * When the source errors, runs in flight still finish and emit before the error.
 * Unsubscribing cancels the runs in flight and closes the source.
 *
 * @example
 * ```ts
 * admit([1, 2, 3], { limit: 2, bufferSize: 0 }, (n, done) => { done(n * 2); return () => {}; })
 *   .subscribe(console.log);
 * ```
 */
export function admit<T, R>(source: InputSource<T>, options: { readonly limit: number; readonly bufferSize: number }, launch: Launch<T, R>): Observable<R> {
  return new Observable<R>((subscriber) => {
    const { limit, bufferSize } = options;
    let inFlight = 0;
    let exhausted = false;
    let stopped = false;
    let sourceError: { error: unknown } | undefined;
    const cancels = new Set<() => void>();

    const settle = (): void => {
      if (stopped || !exhausted || inFlight > 0) return;
      stopped = true;
      if (sourceError) subscriber.error(sourceError.error);
      else subscriber.complete();
    };
    const start = (value: T, next: () => void): void => {
      inFlight++;
      let ended = false;
      let cancel: (() => void) | undefined;
      cancel = launch(value, (result) => {
        ended = true;
        if (cancel) cancels.delete(cancel);
        inFlight--;
        if (!stopped) subscriber.next(result);
        next();
      });
      if (!ended) cancels.add(cancel);
    };

    if (isObservable(source)) {
      const buffer: T[] = [];
      let head = 0;
      let draining = false;
      // Starts buffered inputs while slots are free; re-entrant calls (a run that ends at once) only loop again.
      const next = (): void => {
        if (draining) return;
        draining = true;
        while (head < buffer.length && !stopped && inFlight < limit) {
          const v = buffer[head]!;
          buffer[head++] = undefined as T;
          if (head === buffer.length) { buffer.length = 0; head = 0; }
          start(v, next);
        }
        draining = false;
        if (head === buffer.length) settle();
      };
      const overflow = (): void => {
        sourceError = { error: new RejectedError('QUEUE_FULL', `input buffer full: ${bufferSize} inputs waiting for ${limit} run slots; the Observable source produces faster than runs finish (use an (async) iterable for pull-based backpressure, or raise bufferSize)`) };
        exhausted = true;
        buffer.length = 0;
        head = 0;
        sub?.unsubscribe();
        settle();
      };
      // A synchronous source may emit (forever) before subscribe() returns, while `sub` is still
      // unset: takeWhile ends it from inside its emission once the stream takes no more inputs.
      let sub: Subscription | undefined;
      sub = source.pipe(takeWhile(() => !exhausted && !stopped && !subscriber.closed)).subscribe({
        next: (v) => {
          if (inFlight < limit && head === buffer.length) return start(v, next);
          if (buffer.length - head >= bufferSize) return overflow();
          buffer.push(v);
        },
        error: (e: unknown) => { sourceError = { error: e }; exhausted = true; buffer.length = 0; head = 0; settle(); },
        complete: () => { exhausted = true; if (head === buffer.length) settle(); },
      });
      if (exhausted || stopped) sub.unsubscribe();
      return () => {
        stopped = true;
        sub?.unsubscribe();
        for (const c of [...cancels]) c();
      };
    }

    const iterator: Iterator<T> | AsyncIterator<T> = Symbol.asyncIterator in source
      ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (source as Iterable<T>)[Symbol.iterator]();
    let pulling = false;
    const fail = (e: unknown): void => { sourceError = { error: e }; exhausted = true; settle(); };
    const pump = (): void => {
      if (pulling) return;
      pulling = true;
      while (!exhausted && !stopped && inFlight < limit) {
        let step: IteratorResult<T> | Promise<IteratorResult<T>>;
        try {
          step = iterator.next();
        } catch (e) {
          pulling = false;
          return fail(e);
        }
        if (step instanceof Promise) {
          step.then(
            (r) => {
              pulling = false;
              if (r.done) { exhausted = true; settle(); } else if (!stopped) { start(r.value, pump); pump(); }
            },
            (e: unknown) => { pulling = false; fail(e); },
          );
          return;
        }
        if (step.done) exhausted = true;
        else start(step.value, pump);
      }
      pulling = false;
      settle();
    };
    pump();
    return () => {
      const wasStopped = stopped;
      stopped = true;
      for (const c of [...cancels]) c();
      if (!wasStopped || !exhausted) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    };
  });
}
