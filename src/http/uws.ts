/**
 * Loads uWebSockets.js (the npm alias of design section 1) and refuses to go on when its native
 * binary did not load: the package silently falls back to a slow pure-JavaScript server, which
 * distkv must never serve with.
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import { DistkvError } from '../errors.js';

/** UwsModule is the uWebSockets.js module as loaded. */
export type UwsModule = typeof Uws;
export type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  us_listen_socket as ListenSocket,
} from 'uWebSockets.js';

/** loadNativeUws returns the native uWebSockets.js module or throws UNAVAILABLE explaining why not. */
export function loadNativeUws(): UwsModule {
  const require = createRequire(import.meta.url);
  if (/^(1|true)$/i.test(process.env.UWS_USE_FALLBACK ?? '')) {
    throw new DistkvError(
      'UNAVAILABLE',
      'UWS_USE_FALLBACK is set: distkv only runs on the native uWebSockets.js binary; unset it',
    );
  }
  const mod = require('uWebSockets.js') as UwsModule & { getParts?: unknown };
  const nativeLoaded = Object.keys(require.cache).some((p) => /uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/.test(p));
  if (!nativeLoaded || typeof mod.getParts !== 'function') {
    throw new DistkvError(
      'UNAVAILABLE',
      `the native uWebSockets.js binary did not load on ${process.platform}-${process.arch} with Node ABI ` +
        `${process.versions.modules} (Node ${process.version}); distkv refuses to run on its slow JavaScript fallback. ` +
        'Use Node 20 on glibc Linux x64/arm64, or a uWebSockets.js build for this platform.',
    );
  }
  return mod;
}
