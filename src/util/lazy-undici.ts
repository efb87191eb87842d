/**
 * undici, loaded on first use: importing it takes ~130 ms, which the server would otherwise pay
 * before it listens (only scans, batches across processes and the peer check need it).
 */
type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;

/** undici returns the undici module, importing it the first time. */
export function undici(): Promise<Undici> {
  loading ??= import('undici');
  return loading;
}
