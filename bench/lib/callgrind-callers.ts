/**
 * Who calls a function, from one callgrind output file (one thread of one dump): each caller of
 * the functions whose name contains a given text, with the calls' inclusive instructions, JIT
 * code named from the process's perf map as in callgrind-self.ts. Used by bench/http-count.ts
 * `--callers TEXT` to find where a runtime function (a string hash, a map lookup) is reached from.
 *
 * Callgrind's format: `fn=(id) name` opens the caller, `cfn=(id) name` names a callee, the next
 * `calls=` line is followed by one cost line, the call's inclusive cost (docs of valgrind,
 * "Callgrind Format Specification").
 */
import { readFileSync } from 'node:fs';
import { functionLine, nameOf, perfMap } from './callgrind-self.js';

/** callersOf returns [caller, callee, inclusive instructions] of every call to a function named like `text`. */
export function callersOf(cgFile: string, mapFile: string, text: string): [string, string, number][] {
  const names = new Map<string, string>();
  const costs = new Map<string, number>();
  let current = '';
  let callee: string | undefined;
  let costNext = false;
  for (const line of readFileSync(cgFile, 'utf8').split('\n')) {
    const fn = functionLine(line, names);
    if (fn !== undefined) {
      if (fn.callee) callee = fn.name;
      else current = fn.name;
      continue;
    }
    if (line.startsWith('calls=')) {
      costNext = callee !== undefined && callee.includes(text);
      continue;
    }
    if (!costNext || !/^[-+*0-9]/.test(line)) continue;
    costNext = false;
    const key = `${current}\u0000${callee!}`;
    costs.set(key, (costs.get(key) ?? 0) + Number(line.split(' ')[1] ?? 0));
  }
  const map = perfMap(mapFile);
  const named = new Map<string, number>();
  for (const [key, cost] of costs) {
    const [caller, to] = key.split('\u0000') as [string, string];
    const k = `${nameOf(caller, map)}\u0000${to}`;
    named.set(k, (named.get(k) ?? 0) + cost);
  }
  return [...named]
    .map(([k, cost]): [string, string, number] => {
      const [caller, to] = k.split('\u0000') as [string, string];
      return [caller, to, cost];
    })
    .sort((a, b) => b[2] - a[2]);
}
