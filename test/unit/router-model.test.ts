/**
 * The router (src/http/router.ts) against its model: for random route tables (exact paths and
 * prefixes, registered in any order, per method or for any method) and random paths, `find`
 * returns what the plain rule gives: the exact path's handler for the method (HEAD: else GET's,
 * else any method's), else the longest prefix's with a handler for it. The router skips its exact
 * map for paths no exact route has; this checks the skip never changes an answer (seeded,
 * shrinking; fast-check prints the seed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Handler } from '../../src/http/router.js';
import { Router } from '../../src/http/router.js';
import { testSeed } from '../helpers/random.js';

type Method = 'GET' | 'PUT' | 'DELETE' | 'POST' | '*';
interface Reg {
  method: Method;
  pattern: string;
}

const SEGMENTS = ['', 'kv', 'kv/', 'kv/_batch', 'a', 'a/b', '_admin/map', 'k', 'kv/k'];
const patternArb = fc
  .tuple(fc.constantFrom(...SEGMENTS), fc.boolean())
  .map(([s, star]) => `/${s}${star ? '*' : ''}`);
const regArb: fc.Arbitrary<Reg> = fc.record({
  method: fc.constantFrom<Method>('GET', 'PUT', 'DELETE', 'POST', '*'),
  pattern: patternArb,
});
const pathArb = fc
  .tuple(fc.constantFrom(...SEGMENTS), fc.constantFrom('', 'x', '/y', '_batch'))
  .map(([s, t]) => `/${s}${t}`);

/** modelFind is the plain rule, over the registrations in order (the first for a method and pattern wins). */
function modelFind(regs: readonly Reg[], method: string, path: string): number | undefined {
  const first = (pattern: string, m: string): number | undefined => {
    const i = regs.findIndex((r) => r.pattern === pattern && r.method === m);
    return i < 0 ? undefined : i;
  };
  const pick = (pattern: string): number | undefined =>
    first(pattern, method) ?? (method === 'HEAD' ? first(pattern, 'GET') : undefined) ?? first(pattern, '*');
  const exact = pick(path);
  if (exact !== undefined && regs.some((r) => r.pattern === path)) return exact;
  const prefixes = [...new Set(regs.map((r) => r.pattern).filter((p) => p.endsWith('*')))]
    .map((p) => p.slice(0, -1))
    .sort((a, b) => b.length - a.length);
  for (const p of prefixes) {
    if (!path.startsWith(p)) continue;
    const h = pick(`${p}*`);
    if (h !== undefined) return h;
  }
  return undefined;
}

describe('Router.find against its model', () => {
  it('finds the route the plain rule gives, whatever the registration order (seeded, shrinking)', () => {
    fc.assert(
      fc.property(
        fc.array(regArb, { minLength: 1, maxLength: 14 }),
        fc.array(fc.tuple(fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'POST', 'PATCH'), pathArb), {
          minLength: 1,
          maxLength: 20,
        }),
        (regs, lookups) => {
          const router = new Router();
          const handlers = new Map<Handler, number>();
          regs.forEach((r, i) => {
            const h: Handler = () => undefined;
            handlers.set(h, i);
            if (r.method === '*') router.any(r.pattern, h);
            else if (r.method === 'GET') router.get(r.pattern, h);
            else if (r.method === 'PUT') router.put(r.pattern, h);
            else if (r.method === 'DELETE') router.del(r.pattern, h);
            else router.post(r.pattern, h);
          });
          for (const [method, path] of lookups) {
            const found = router.find(method, path);
            const got = found === undefined ? undefined : handlers.get(found.handler);
            assert.equal(got, modelFind(regs, method, path), `${method} ${path}`);
          }
        },
      ),
      { seed: testSeed(), numRuns: 3000 },
    );
  });
});
