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
 */
import type { HttpRequest, HttpResponse } from './http1-exchange.js';

/** Handler answers one request, now or later. */
export type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** RouteMatch is a matched route: its handler and whether it writes. */
export interface RouteMatch {
  handler: Handler;
  write: boolean;
}

/** AnyOptions: `write` marks an any-method route that changes data. */
export interface AnyOptions {
  write?: boolean;
}

type MethodTable = Map<string, RouteMatch>;

const ANY = '*';

/** Router maps method and path to a handler. */
export class Router {
  private readonly exact = new Map<string, MethodTable>();
  private readonly prefixes: { prefix: string; table: MethodTable }[] = [];

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, { handler, write: false });
  }

  put(pattern: string, handler: Handler): this {
    return this.add('PUT', pattern, { handler, write: true });
  }

  del(pattern: string, handler: Handler): this {
    return this.add('DELETE', pattern, { handler, write: true });
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, { handler, write: true });
  }

  any(pattern: string, handler: Handler, options: AnyOptions = {}): this {
    return this.add(ANY, pattern, { handler, write: options.write === true });
  }

  /** find returns the route for `method path`, or undefined when none matches. */
  find(method: string, path: string): RouteMatch | undefined {
    const table = this.exact.get(path);
    if (table !== undefined) {
      const h = pick(table, method);
      if (h !== undefined) return h;
    }
    for (const p of this.prefixes) {
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
        this.prefixes.push({ prefix, table });
        this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
      }
    } else {
      table = this.exact.get(pattern);
      if (table === undefined) this.exact.set(pattern, (table = new Map<string, RouteMatch>()));
    }
    if (!table.has(method)) table.set(method, match);
    return this;
  }
}

function pick(table: MethodTable, method: string): RouteMatch | undefined {
  return table.get(method) ?? (method === 'HEAD' ? table.get('GET') : undefined) ?? table.get(ANY);
}
