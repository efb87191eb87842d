/**
 * The header every micro benchmark prints: what runs, on which Node, how many CPUs.
 */
import { availableParallelism, cpus } from 'node:os';

/** printHeader prints the benchmark name, Node version, CPU model and count. */
export function printHeader(name: string): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`# ${name} | node ${process.version} | ${availableParallelism()} CPUs (${cpu})\n`);
}
