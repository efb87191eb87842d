/**
 * undici, loaded on first use: importing it takes ~130-160 ms of CPU (more than the rest of a `distkv
 * --help`), which every process would otherwise pay at start: the server before it listens (only
 * scans, batches across processes, replicas of another process and the peer check need it), a
 * worker (only for a leader in another process), and each CLI command (those that send nothing:
 * --help, a usage error).
 */
type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;
let loaded: Undici | undefined;

/** undici returns the undici module, importing it the first time. */
export function undici(): Promise<Undici> {
  loading ??= import('undici').then((u) => (loaded = u));
  return loading;
}

/** undiciLoaded returns the undici module once an `undici()` call has loaded it, else undefined (for hot paths that stay synchronous). */
export function undiciLoaded(): Undici | undefined {
  return loaded;
}
