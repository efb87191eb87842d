/**
 * Files and standard input the CLI reads and writes. Every failure becomes a UsageError naming the
 * path and the reason ("cannot read /missing: no such file or directory"), never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'it already exists',
  ENOSPC: 'no space left on the device',
};

/** fileProblem turns a file system error into a one-line UsageError for `what` (e.g. "cannot read FILE"). */
export function fileProblem(what: string, err: unknown): UsageError {
  const code = (err as { code?: unknown } | null)?.code;
  const reason = typeof code === 'string' ? (REASONS[code] ?? code) : (err as Error).message;
  return new UsageError(`${what}: ${reason}`);
}

/** readInput reads a whole file, or standard input for "-". */
export function readInput(path: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (err) {
    throw fileProblem(`cannot read ${path === '-' ? 'standard input' : path}`, err);
  }
}
