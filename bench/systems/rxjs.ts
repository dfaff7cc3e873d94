/**
 * Raw RxJS 7, hand-written as a developer would: an operator pipeline built
 * once per DAG (mergeMap per node, forkJoin for parallel branches), applied to
 * `of(input)` per run.
 * @module
 */
import { forkJoin, from, lastValueFrom, mergeMap, of, type Observable, type OperatorFunction } from 'rxjs';
import type { Provider } from '../../src/providers/types.ts';
import type { JoinFn, NodeFn, Pump, RunFn, SystemAdapter, TokenConsumer, TokenPipe } from './types.ts';

type Op = OperatorFunction<number, number>;

function compose(ops: readonly Op[]): (src: Observable<number>) => Observable<number> {
  return (src) => ops.reduce<Observable<number>>((o, op) => o.pipe(op), src);
}

export const system: SystemAdapter = {
  id: 'rxjs',
  chain(fns: readonly NodeFn[]): RunFn {
    const pipeline = compose(fns.map((fn) => mergeMap((x: number) => fn(x))));
    return (input) => lastValueFrom(pipeline(of(input)));
  },
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn): RunFn {
    const pipeline = (src: Observable<number>): Observable<number> => src.pipe(
      mergeMap((x: number) => source(x)),
      mergeMap((s: number) => forkJoin(branches.map((fn) => fn(s)))),
      mergeMap((values: number[]) => join(values)),
    );
    return (input) => lastValueFrom(pipeline(of(input)));
  },
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
    // The textbook form. Note: `from(iterable)` drains the iterable synchronously,
    // so mergeMap buffers every input it cannot start yet.
    const sub = from({ [Symbol.iterator]: () => source })
      .pipe(mergeMap((x: number) => work(x), cap))
      .subscribe({ next: onResult, error: (e: unknown) => { throw e; } });
    return { stop: async () => sub.unsubscribe() };
  },
  /** W8/W9: the provider's Observable subscribed directly by the consumer; no engine. */
  tokenPipe(provider: Provider, model: string, maxTokens: number | undefined, consumer: TokenConsumer): TokenPipe {
    return (prompt) => new Promise<number>((resolve, reject) => {
      let n = 0;
      provider.stream({ model, messages: [{ role: 'user', content: prompt }], ...(maxTokens === undefined ? {} : { maxTokens }) }).subscribe({
        next: (e) => { if (e.type === 'text') consumer.token(n++, e.text); },
        error: reject,
        complete: () => resolve(n),
      });
      consumer.ready?.();
    });
  },
};
