/**
 * The route table of one listener: exact paths (`/kv`) and prefix patterns ending in `*`
 * (`/kv/*`, `/*`), each with handlers per method or for any method.
 *
 * Lookup: the exact path first, then prefixes longest first; within a path, the method's handler,
 * else (for HEAD) the GET handler, else the any-method handler. So `HEAD` works wherever `GET` does
 * (the response then carries the headers and no body), and `GET /kv/_batch` reaches the batch
 * path's 405 rather than a key named "_batch".
 *
 * Each route says whether it writes: PUT, DELETE and POST routes do, GET routes do not, an
 * any-method route does when registered with `{ write: true }` (the seed's `/set`). A connection
 * holds a pipelined read back until the writes sent before it on the connection are answered, so
 * the read sees them (http1-connection.ts).
 *
 * A request path is a fresh string: looking it up in a Map hashes all of it. So the exact map is
 * consulted only for a path that some exact route has: an exact path starts with every prefix its
 * path does, so it is listed under the longest prefix the path starts with (`exact` of that
 * prefix), and a path listed nowhere is in no exact route.
 *
 * A route may also carry a fast handler (kv-fast.ts): run on the parsed head before any request
 * object is built, it serves the common case of the route itself, or declines, having done
 * nothing, and the route's handler serves the request.
 */
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';

/** Handler answers one request, now or later. */
export type Handler = (res: HttpResponse, req: HttpRequest) => void;

/**
 * FastHandler serves a request from its head alone and returns true, or returns false having done
 * nothing (the route's Handler then serves it). It must answer exactly as the Handler would.
 */
export type FastHandler = (res: HttpResponse, head: RequestHead) => boolean;

/** RouteMatch is a matched route: its handler, whether it writes, and its fast handler if any. */
export interface RouteMatch {
  handler: Handler;
  write: boolean;
  fast?: FastHandler;
}

/** AnyOptions: `write` marks an any-method route that changes data. */
export interface AnyOptions {
  write?: boolean;
}

type MethodTable = Map<string, RouteMatch>;

const ANY = '*';
/** ALLOW_ORDER is the order `closeMethods` lists the usual methods in. */
const ALLOW_ORDER = ['GET', 'HEAD', 'PUT', 'DELETE', 'POST'];

/** Router maps method and path to a handler. */
export class Router {
  private readonly exact = new Map<string, MethodTable>();
  // longest first; `exact` lists the exact paths that start with the prefix
  private readonly prefixes: { prefix: string; table: MethodTable; exact: string[] }[] = [];

  get(pattern: string, handler: Handler, fast?: FastHandler): this {
    return this.add('GET', pattern, withFast({ handler, write: false }, fast));
  }

  put(pattern: string, handler: Handler, fast?: FastHandler): this {
    return this.add('PUT', pattern, withFast({ handler, write: true }, fast));
  }

  del(pattern: string, handler: Handler, fast?: FastHandler): this {
    return this.add('DELETE', pattern, withFast({ handler, write: true }, fast));
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, { handler, write: true });
  }

  any(pattern: string, handler: Handler, options: AnyOptions = {}): this {
    return this.add(ANY, pattern, { handler, write: options.write === true });
  }

  /**
   * closeMethods gives every path with handlers for some methods and none for any method a
   * handler for the others, `make(allow)` (`allow` lists its methods as the `Allow` header does,
   * HEAD with GET): a request for a route that exists for another method is then answered 405
   * there instead of falling through to a shorter prefix or the 404. Call it once every route of
   * the listener is registered, before the catch-all.
   */
  closeMethods(make: (allow: string) => RouteMatch): void {
    for (const table of [...this.exact.values(), ...this.prefixes.map((p) => p.table)]) {
      if (table.has(ANY)) continue;
      const methods = new Set(table.keys());
      if (methods.has('GET')) methods.add('HEAD');
      const allow = ALLOW_ORDER.filter((m) => methods.has(m)).concat(
        [...methods].filter((m) => !ALLOW_ORDER.includes(m)),
      );
      table.set(ANY, make(allow.join(', ')));
    }
  }

  /** find returns the route for `method path`, or undefined when none matches. */
  find(method: string, path: string): RouteMatch | undefined {
    const prefixes = this.prefixes;
    let i = 0;
    while (i < prefixes.length && !path.startsWith(prefixes[i]!.prefix)) i++;
    // The exact map only for a path an exact route has (see the design block).
    if (i === prefixes.length || prefixes[i]!.exact.includes(path)) {
      const table = this.exact.get(path);
      if (table !== undefined) {
        const h = pick(table, method);
        if (h !== undefined) return h;
      }
    }
    for (; i < prefixes.length; i++) {
      const p = prefixes[i]!;
      if (!path.startsWith(p.prefix)) continue;
      const h = pick(p.table, method);
      if (h !== undefined) return h;
    }
    return undefined;
  }

  private add(method: string, pattern: string, match: RouteMatch): this {
    let table: MethodTable | undefined;
    if (pattern.endsWith('*')) {
      const prefix = pattern.slice(0, -1);
      table = this.prefixes.find((p) => p.prefix === prefix)?.table;
      if (table === undefined) {
        table = new Map<string, RouteMatch>();
        const exact = [...this.exact.keys()].filter((path) => path.startsWith(prefix));
        this.prefixes.push({ prefix, table, exact });
        this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
      }
    } else {
      table = this.exact.get(pattern);
      if (table === undefined) {
        this.exact.set(pattern, (table = new Map<string, RouteMatch>()));
        for (const p of this.prefixes) if (pattern.startsWith(p.prefix)) p.exact.push(pattern);
      }
    }
    if (!table.has(method)) table.set(method, match);
    return this;
  }
}

function withFast(match: RouteMatch, fast: FastHandler | undefined): RouteMatch {
  if (fast !== undefined) match.fast = fast;
  return match;
}

function pick(table: MethodTable, method: string): RouteMatch | undefined {
  return table.get(method) ?? (method === 'HEAD' ? table.get('GET') : undefined) ?? table.get(ANY);
}
