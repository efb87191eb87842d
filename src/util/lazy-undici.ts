/**
 * undici, loaded on first use, and only the part distkv uses: its pools, agents and `request`.
 *
 * Importing the package takes ~140 ms of CPU (more than the rest of a `distkv --help`): its index
 * loads fetch, WebSocket, EventSource, cookies, caches and mocks too, and through them Node's own
 * bundled copy of undici. Every process would pay it at start: the server before it listens (only
 * scans, batches across processes, replicas of another process and the peer check need it), a
 * worker (only for a leader in another process), and each CLI command (those that send nothing:
 * --help, a usage error). So it is loaded at the first request, and then only the dispatchers and
 * their request API (~60 ms: 31 modules): `Dispatcher.prototype` gets the API methods as the
 * package's index gives them, and `request(url, opts)` is the index's, for a call that names its
 * dispatcher (distkv always does: it never uses the global one). These paths are undici's own files
 * at the version the lockfile pins; `test/unit/lazy-undici.test.ts` sends a request through them.
 */
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

type Full = typeof import('undici');

/** Undici is the part of undici distkv uses. */
export interface Undici {
  Pool: Full['Pool'];
  Agent: Full['Agent'];
  /** request is undici's `request(url, opts)` for `opts` that name a `dispatcher`. */
  request: Full['request'];
}

let loading: Promise<Undici> | undefined;
let loaded: Undici | undefined;

/** undici returns the part of undici distkv uses, loading it the first time. */
export function undici(): Promise<Undici> {
  loading ??= Promise.resolve().then(() => (loaded = load()));
  return loading;
}

/** undiciLoaded returns what `undici()` loaded once it has, else undefined (for hot paths that stay synchronous). */
export function undiciLoaded(): Undici | undefined {
  return loaded;
}

/** load requires undici's dispatchers and request API (see the design block). */
function load(): Undici {
  const require = createRequire(import.meta.url);
  const base = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
  Object.assign(base.prototype, require('undici/lib/api/index.js'));
  const Pool = require('undici/lib/dispatcher/pool.js') as Full['Pool'];
  const Agent = require('undici/lib/dispatcher/agent.js') as Full['Agent'];
  const request = (url: string | URL, opts: { dispatcher?: Dispatcher; method?: string; body?: unknown }) => {
    if (opts.dispatcher === undefined)
      throw new TypeError('request: distkv names the dispatcher of every call');
    const u = typeof url === 'string' ? new URL(url) : url;
    return opts.dispatcher.request({
      ...opts,
      origin: u.origin,
      path: u.search === '' ? u.pathname : `${u.pathname}${u.search}`,
      method: opts.method ?? (opts.body ? 'PUT' : 'GET'),
    } as Dispatcher.RequestOptions);
  };
  return { Pool, Agent, request: request as unknown as Full['request'] };
}
