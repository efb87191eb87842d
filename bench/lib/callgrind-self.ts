/**
 * Self instructions per function from one callgrind output file (one thread of one dump), with
 * V8's JIT code named from the process's `--perf-basic-prof` map (/tmp/perf-PID.map: `ADDR SIZE
 * name` per line): callgrind names code it has no symbol for by its address, and JavaScript
 * functions are such code. Used by bench/http-count.ts `--top N`.
 *
 * Callgrind's format (docs of valgrind, "Callgrind Format Specification"): `fn=(id) name` opens a
 * function (the name given only at an id's first use, which may be a `cfn=` line), cost lines
 * (`position cost`) follow; the cost line after a `calls=` line is a call's inclusive cost and is
 * not the caller's own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** perfMap reads a perf map into sorted parallel arrays of start, end and name. */
export function perfMap(path: string): { starts: number[]; ends: number[]; names: string[] } {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // no map: JIT code keeps its addresses
  }
  const rows = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [a, s] = l.split(' ', 2);
      const start = parseInt(a!, 16);
      return { start, end: start + parseInt(s!, 16), name: l.slice(a!.length + s!.length + 2) };
    })
    .sort((x, y) => x.start - y.start);
  return { starts: rows.map((r) => r.start), ends: rows.map((r) => r.end), names: rows.map((r) => r.name) };
}

/**
 * functionLine reads a `fn=(id) name` (the function whose costs follow) or `cfn=(id) name` (a
 * callee) line, the name given only at an id's first use (kept in `names`); undefined for other lines.
 */
export function functionLine(
  line: string,
  names: Map<string, string>,
): { callee: boolean; name: string } | undefined {
  const fn = /^(c?)fn=\((\d+)\)(?: (.*))?$/.exec(line);
  if (fn === null) return undefined;
  if (fn[3] !== undefined) names.set(fn[2]!, fn[3]);
  return { callee: fn[1] === 'c', name: names.get(fn[2]!) ?? `?${fn[2]!}` };
}

/** selfCosts returns [function, self instructions] of one callgrind file, the most costly first. */
export function selfCosts(cgFile: string, mapFile: string): [string, number][] {
  const names = new Map<string, string>();
  const self = new Map<string, number>();
  let current: string | undefined;
  let skipNext = false;
  for (const line of readFileSync(cgFile, 'utf8').split('\n')) {
    const fn = functionLine(line, names);
    if (fn !== undefined) {
      if (!fn.callee) {
        current = fn.name;
        skipNext = false;
      }
      continue;
    }
    if (line.startsWith('calls=')) {
      skipNext = true;
      continue;
    }
    if (current === undefined || !/^[-+*0-9]/.test(line)) continue;
    if (skipNext) {
      skipNext = false;
      continue;
    }
    const cost = Number(line.split(' ')[1] ?? 0);
    self.set(current, (self.get(current) ?? 0) + cost);
  }
  const map = perfMap(mapFile);
  const named = new Map<string, number>();
  for (const [name, cost] of self) {
    const n = nameOf(name, map);
    named.set(n, (named.get(n) ?? 0) + cost);
  }
  return [...named].sort((a, b) => b[1] - a[1]);
}

/** nameOf names an address-named function from the perf map (the last entry that covers it). */
export function nameOf(name: string, map: ReturnType<typeof perfMap>): string {
  if (!name.startsWith('0x')) return name;
  const addr = parseInt(name.split("'")[0]!, 16);
  let lo = 0;
  let hi = map.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (map.starts[mid]! <= addr) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo - 1; i >= 0 && i >= lo - 64; i--) if (addr < map.ends[i]!) return map.names[i]!;
  return name;
}

// V8's optimizing compiler, its garbage collector and the code that serves them.
const NOISE =
  /compiler::|Scavenger|Scavenge|Sweeper|MarkCompact|Marking|Evacuat|heap::|Heap::|IterateObjectCache|GCTracer|RootScavengeVisitor|ConcurrentMarking|MemoryAllocator|PagedSpace|NewSpace|Zone::|ZoneList|OptimizedCompilationJob|Pipeline|Deoptimizer/;

/**
 * steadyCost sums `costs` (selfCosts's list) without the functions of V8's optimizing compiler and
 * garbage collector: what a request costs once its code is optimized, less the collections that
 * happen to fall into the window (the write barrier, `RecordWrite`, stays: each store pays it).
 */
export function steadyCost(costs: readonly [string, number][]): number {
  let sum = 0;
  for (const [name, cost] of costs) if (!NOISE.test(name)) sum += cost;
  return sum;
}

/**
 * callgrindWindow is the closed loop's `started`/`finished` pair for a process under callgrind:
 * zero the counters and turn instrumentation on when the requests start, dump and turn it off once
 * they are answered (`callgrind_control`), so a dump holds those requests only.
 */
export function callgrindWindow(pid: number): { started: () => void; finished: () => void } {
  const control = (...args: string[]): void => {
    execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore' });
  };
  return {
    started: () => {
      control('-z');
      control('-i', 'on');
    },
    finished: () => {
      control('-d');
      control('-i', 'off');
    },
  };
}
