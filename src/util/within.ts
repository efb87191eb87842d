/**
 * Bounded waits: for a promise that may never settle (an etcd that does not answer, an LMDB
 * commit whose fsync failed: lmdb-js never settles its flush), so that nothing waits for ever.
 */

/**
 * within resolves as `run` does, or fails with "<what> did not answer within <ms> ms" once `ms`
 * passed first (`run` goes on; `detail` adds what is known by then, such as a reconcile's phase).
 */
export async function within<T>(
  what: string,
  ms: number,
  run: Promise<T>,
  detail = (): string => '',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const more = detail();
      reject(new Error(`${what} did not answer within ${ms} ms${more === '' ? '' : ` (${more})`}`));
    }, ms);
  });
  try {
    return await Promise.race([run, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * settledWithin resolves true once `p` settles (fulfilled or rejected: its rejection is taken
 * here, not left unhandled), or false once `ms` passed first; undefined counts as settled.
 */
export async function settledWithin(p: PromiseLike<unknown> | undefined, ms: number): Promise<boolean> {
  if (p === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  const settled = Promise.resolve(p).then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
