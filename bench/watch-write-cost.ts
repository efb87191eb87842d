/**
 * What a watch broadcast's socket writes cost the writing thread, apart from everything else
 * (docs/performance.md, "Watch: keys as bytes, and where 100 watchers' CPU goes"): this process
 * writes to `--watchers` loopback sockets, read by a child process, `--flushes` times a second,
 * each write carrying the bytes a second of events would bring at `--events` per second of
 * `--event-bytes` each (a broadcast's flush: one buffer shared by every socket). For each shape it
 * reports the writing thread's user and kernel CPU (from /proc) per write and per KiB, so the cost
 * splits into a part per write and a part per byte. Shapes alternate over `--rounds`; medians.
 *
 *   node dist/bench/watch-write-cost.js [--watchers 100] [--seconds 3] [--rounds 3]
 *        [--events 15000] [--event-bytes 111,12] [--flushes 40,20]
 * Internal: `--child PORT` is the reading process (this script forks it).
 */
import { fork } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { count, counts } from './lib/args.js';
import { threadCpuTimes } from './lib/thread-stats.js';
import { median } from './lib/compare-stats.js';

const WATCHERS = count('watchers', 100);
const SECONDS = count('seconds', 3);
const ROUNDS = count('rounds', 3);
const EVENTS = count('events', 15000);
const EVENT_BYTES = counts('event-bytes', '111,12');
const FLUSHES = counts('flushes', '40,20');

/** reader is the child: it opens the sockets and reads everything, counting bytes. */
async function reader(port: number): Promise<void> {
  let bytes = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < WATCHERS; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('error', () => undefined);
    sockets.push(s);
  }
  process.send?.('ready');
  process.on('message', () => {
    process.send?.(bytes);
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
  await new Promise(() => undefined);
}

interface Shape {
  flushes: number;
  eventBytes: number;
}

/** run writes one shape for SECONDS and returns this thread's CPU seconds and the writes made. */
async function run(
  sockets: readonly Socket[],
  shape: Shape,
): Promise<{ user: number; system: number; writes: number; bytes: number }> {
  const size = Math.round((EVENTS * shape.eventBytes) / shape.flushes);
  const data = Buffer.alloc(size, 0x61);
  const t0 = threadCpuTimes(process.pid, process.pid);
  let writes = 0;
  const end = Date.now() + SECONDS * 1000;
  while (Date.now() < end) {
    for (const s of sockets) s.write(data);
    writes += sockets.length;
    await new Promise((r) => setTimeout(r, 1000 / shape.flushes));
  }
  const t1 = threadCpuTimes(process.pid, process.pid);
  return { user: t1.user - t0.user, system: t1.system - t0.system, writes, bytes: writes * size };
}

async function main(): Promise<void> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const child = fork(new URL(import.meta.url), ['--child', String(port), '--watchers', String(WATCHERS)]);
  await new Promise((r) => child.once('message', r));
  while (sockets.length < WATCHERS) await new Promise((r) => setTimeout(r, 10));
  const shapes: Shape[] = FLUSHES.flatMap((flushes) =>
    EVENT_BYTES.map((eventBytes) => ({ flushes, eventBytes })),
  );
  const results = new Map<Shape, { usWrite: number[]; usWriteSys: number[]; usKiB: number[] }>();
  for (let round = 0; round < ROUNDS; round++)
    for (const shape of round % 2 === 0 ? shapes : [...shapes].reverse()) {
      const r = await run(sockets, shape);
      const entry = results.get(shape) ?? { usWrite: [], usWriteSys: [], usKiB: [] };
      entry.usWrite.push(((r.user + r.system) * 1e6) / r.writes);
      entry.usWriteSys.push((r.system * 1e6) / r.writes);
      entry.usKiB.push(((r.user + r.system) * 1e6) / (r.bytes / 1024));
      results.set(shape, entry);
    }
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; ` +
      `${WATCHERS} sockets, ${EVENTS} events/s, ${SECONDS} s × ${ROUNDS} rounds (CPU in 10-ms ticks)`,
  );
  for (const [shape, r] of results) {
    const size = Math.round((EVENTS * shape.eventBytes) / shape.flushes);
    const perSecond = (median(r.usWrite) * shape.flushes * WATCHERS) / 1e6;
    console.log(
      `${String(shape.flushes).padStart(3)} flushes/s × ${String(size).padStart(6)} B: ` +
        `${median(r.usWrite).toFixed(1)} µs per write (kernel ${median(r.usWriteSys).toFixed(1)}; ` +
        `rounds ${r.usWrite.map((x) => x.toFixed(1)).join(' ')}), ${median(r.usKiB).toFixed(2)} µs per KiB, ` +
        `${(perSecond * 100).toFixed(1)} % of a core, ${((perSecond * 1e6) / EVENTS).toFixed(2)} µs per event`,
    );
  }
  child.send('stop');
  await new Promise((r) => child.once('message', r));
  for (const s of sockets) s.destroy();
  server.close();
}

if (process.argv.includes('--child')) await reader(Number(process.argv[process.argv.indexOf('--child') + 1]));
else await main();
