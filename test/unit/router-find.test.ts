/**
 * The router's lookup (src/http/router.ts) skips the exact-path table for a path under a prefix
 * that no exact pattern starts with. A seeded model test: routers built from overlapping exact and
 * prefix patterns, in any order of registration, give every path and method the route that the
 * plain rule gives (exact path first, then prefixes longest first; the method, HEAD as GET, any).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Handler, type RouteMatch, Router } from '../../src/http/router.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const PATTERNS = [
  '/kv',
  '/kv/*',
  '/kv/_batch',
  '/kv/_b*',
  '/*',
  '/get',
  '/g*',
  '/health',
  '/admin/*',
  '/admin/map',
  '/a*',
  '/',
];
const PATHS = [
  '/kv',
  '/kv/',
  '/kv/a',
  '/kv/_batch',
  '/kv/_batch/x',
  '/kv/_b',
  '/get',
  '/gets',
  '/g',
  '/health',
  '/admin/map',
  '/admin/x',
  '/a',
  '/',
  '/x',
  '',
];
const METHODS = ['GET', 'PUT', 'DELETE', 'POST', 'HEAD', 'OPTIONS'];
const ROUTE_METHODS = ['GET', 'PUT', 'DELETE', 'POST', '*'] as const;

interface Route {
  method: string;
  pattern: string;
  match: RouteMatch;
}

/** expected is the plain rule over the routes as registered (the first registration of a method wins). */
function expected(routes: readonly Route[], method: string, path: string): RouteMatch | undefined {
  const pick = (table: Route[]): RouteMatch | undefined => {
    const of = (m: string): RouteMatch | undefined => table.find((r) => r.method === m)?.match;
    return of(method) ?? (method === 'HEAD' ? of('GET') : undefined) ?? of('*');
  };
  const exact = routes.filter((r) => !r.pattern.endsWith('*') && r.pattern === path);
  const h = pick(exact);
  if (h !== undefined) return h;
  const prefixes = [
    ...new Set(routes.filter((r) => r.pattern.endsWith('*')).map((r) => r.pattern.slice(0, -1))),
  ];
  prefixes.sort((a, b) => b.length - a.length);
  for (const prefix of prefixes) {
    if (!path.startsWith(prefix)) continue;
    const m = pick(routes.filter((r) => r.pattern === `${prefix}*`));
    if (m !== undefined) return m;
  }
  return undefined;
}

describe('router lookup', () => {
  it('finds for every path and method the route of the plain rule, whatever the order of registration', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let round = 0; round < 300; round++) {
      const router = new Router();
      const routes: Route[] = [];
      const count = 1 + Math.floor(random() * 8);
      for (let i = 0; i < count; i++) {
        const pattern = PATTERNS[Math.floor(random() * PATTERNS.length)]!;
        const method = ROUTE_METHODS[Math.floor(random() * ROUTE_METHODS.length)]!;
        const handler: Handler = () => undefined;
        if (method === '*') router.any(pattern, handler);
        else if (method === 'GET') router.get(pattern, handler);
        else if (method === 'PUT') router.put(pattern, handler);
        else if (method === 'DELETE') router.del(pattern, handler);
        else router.post(pattern, handler);
        routes.push({ method, pattern, match: { handler, write: false } });
      }
      for (const path of PATHS)
        for (const method of METHODS) {
          const want = expected(routes, method, path);
          const got = router.find(method, path);
          assert.equal(got?.handler, want?.handler, `seed ${seed} round ${round}: ${method} ${path}`);
        }
    }
  });
});
