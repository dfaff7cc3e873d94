/**
 * The pull side, for `for await`: run results as an async iterable whose inputs
 * are admitted only as the consumer takes results, and one node's token stream
 * as an async iterable. Built on ix (`AsyncIterableX`), so every ix operator
 * (`filter`, `map`, `take`, `toArray`, ...) applies.
 * @module
 */
import { AsyncIterableX } from 'ix/asynciterable/asynciterablex';
import { filter, ReplaySubject, takeWhile, type Observable } from 'rxjs';
import type { AnyTopology, InputOf, StreamChunk } from '../definition/types.ts';
import type { Engine, ResultOf, StreamOptions } from '../runtime/engine.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { InputSource } from '../runtime/source.ts';
import { isLoopEvent } from '../runtime/loop.ts';

/**
 * Runs every input of `source` and yields each result as its run ends, pulling
 * the next input only while fewer than `maxInFlight` results are running or
 * waiting to be taken: a slow consumer slows admission down, so nothing piles up
 * on either side. Breaking out of the loop cancels the runs in flight.
 *
 * @example
 * ```ts
 * for await (const r of iterate(engine, rag, questions(), { maxInFlight: 8 })) {
 *   if (r.status === 'completed') console.log(r.output);
 * }
 * ```
 */
export function iterate<T extends AnyTopology>(
  engine: Pick<Engine, 'stream'>,
  topology: T,
  source: Iterable<InputOf<T>> | AsyncIterable<InputOf<T>>,
  options: Omit<StreamOptions, 'bufferSize'> = {},
): AsyncIterableX<ResultOf<T>> {
  const limit = options.maxInFlight ?? 16;
  return AsyncIterableX.from(new GatedResults(engine, topology, source, options, limit));
}

/** Results of `engine.stream` over a source that yields an input only when a permit is free. */
class GatedResults<T extends AnyTopology> implements AsyncIterable<ResultOf<T>> {
  constructor(
    private readonly engine: Pick<Engine, 'stream'>,
    private readonly topology: T,
    private readonly source: Iterable<InputOf<T>> | AsyncIterable<InputOf<T>>,
    private readonly options: Omit<StreamOptions, 'bufferSize'>,
    private readonly limit: number,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<ResultOf<T>> {
    // permits = inputs that may still be admitted; a taken result gives one back
    let permits = this.limit;
    let wake: (() => void) | undefined;
    const permit = async (): Promise<void> => {
      while (permits === 0) await new Promise<void>((resolve) => { wake = resolve; });
      permits--;
    };
    const give = (): void => {
      permits++;
      const w = wake;
      wake = undefined;
      w?.();
    };
    const src = this.source;
    const gated: AsyncIterable<InputOf<T>> = {
      async *[Symbol.asyncIterator]() {
        for await (const input of src) {
          await permit();
          yield input;
        }
      },
    };
    const results = this.engine.stream(this.topology, gated as InputSource<InputOf<T>>, { ...this.options, maxInFlight: this.limit });
    for await (const r of AsyncIterableX.from(results)) {
      give(); // handed over: no longer waiting to be taken
      yield r;
    }
  }
}

/**
 * One node's token stream in one run, from the engine's bus: `{ kind: 'token' }`
 * chunks in order, and a `{ kind: 'restart' }` marker when the node restarted its
 * call; it ends when the node or its run ends. It listens from the moment it is
 * created (create it before starting the run) and keeps what arrives until read.
 *
 * @example
 * ```ts
 * const draft = tokens(engine.events$, 'run-1', 'draft');
 * const done = engine.run(t, input, { runId: 'run-1' });
 * for await (const chunk of draft) if (chunk.kind === 'token') process.stdout.write(chunk.text);
 * await done;
 * ```
 */
export function tokens(events$: Observable<EngineEvent>, runId: string, nodeId: string): AsyncIterableX<StreamChunk> {
  const captured = new ReplaySubject<StreamChunk>();
  events$
    .pipe(
      filter((e) => 'runId' in e && e.runId === runId),
      takeWhile((e) => !isEnd(e, nodeId)),
    )
    .subscribe({
      next: (e) => {
        if (e.type === 'node.token' && e.nodeId === nodeId) captured.next({ kind: 'token', index: e.index, text: e.text });
        else if (e.type === 'node.restart' && e.nodeId === nodeId) captured.next({ kind: 'restart', reason: e.reason });
      },
      error: (err: unknown) => captured.error(err),
      complete: () => captured.complete(),
    });
  return AsyncIterableX.from(captured);
}

/** The node's last event (its output, failure, skip or cancellation), or its run's. */
function isEnd(e: EngineEvent, nodeId: string): boolean {
  if (e.type === 'node.token' || e.type === 'node.restart' || e.type === 'model.call' || e.type === 'run.parked' || e.type === 'breaker.state' || e.type === 'policy.decision' || isLoopEvent(e)) return false;
  if (e.type.startsWith('run.')) return e.type !== 'run.started';
  return 'nodeId' in e && e.nodeId === nodeId && e.type !== 'node.started' && e.type !== 'node.retry' && e.type !== 'node.fallback';
}
