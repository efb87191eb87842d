/**
 * The edges of a `client.watch()` call (watch.ts runs the watch itself): checkWatchOptions, its
 * options as JavaScript may pass them, and endOnReturn, its iterator.
 *
 * endOnReturn: a watch's iterator whose `return()` (and `throw()`) ends the watch at once, even
 * while a `next()` waits for a change. An async generator runs `return()` only once the pending
 * `next()` has settled, so `it.return()` on a watch of a quiet prefix (a timer ending it, a
 * consumer giving up while its `for await` waits) waited for the next change, possibly for ever,
 * its streams left open. Here `return()` first aborts the watch's `ended` signal, which ends the
 * pending `next()` with `done` (as aborting the caller's signal does), then returns the generator.
 *
 * A watch is iterated once: a second `[Symbol.asyncIterator]()` (a second `for await` over the
 * same watch, at the same time or after the first ended) throws INVALID_ARGUMENT. Two loops over
 * one watch split its events between them, and the first to stop ended the other without a word.
 */
import { DistkvError } from '../errors.js';
import type { WatchOptions } from './watch.js';

/**
 * checkWatchOptions refuses (INVALID_ARGUMENT) options of a type the types allow no other way, from
 * JavaScript: a `from` that is not a string threw a bare TypeError, and `values: "no"` sent values.
 */
export function checkWatchOptions(options: WatchOptions): void {
  const o = options as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null)
    throw new DistkvError('INVALID_ARGUMENT', `watch options must be an object, got ${String(o)}`);
  if (o.from !== undefined && typeof o.from !== 'string')
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `watch option from must be a cursor or version E.S as a string, got ${typeof o.from}`,
    );
  for (const name of ['values', 'progress'])
    if (o[name] !== undefined && typeof o[name] !== 'boolean')
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `watch option ${name} must be true or false, got ${typeof o[name] === 'string' ? JSON.stringify(o[name]) : typeof o[name]}`,
      );
}

/** endOnReturn starts `run` with a signal that its iterator's return() and throw() abort. */
export function endOnReturn<T>(
  run: (ended: AbortSignal) => AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  const ender = new AbortController();
  const gen = run(ender.signal);
  let iterated = false;
  const it: AsyncGenerator<T, void, undefined> = {
    next: (...args: [] | [undefined]) => gen.next(...args),
    return: (value: void | PromiseLike<void>) => {
      ender.abort();
      return gen.return(value);
    },
    throw: (err: unknown) => {
      ender.abort();
      return gen.throw(err);
    },
    [Symbol.asyncIterator]: () => {
      if (iterated)
        throw new DistkvError(
          'INVALID_ARGUMENT',
          'this watch is iterated already: a watch can be looped over once (two loops would split its events); call watch() again, with from: the cursor of the last event seen, for another',
        );
      iterated = true;
      return it;
    },
  };
  return it;
}
