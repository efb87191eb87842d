/**
 * Helpers for RESP tests: loopback ports whose RESP twin (port + resp_port_offset) is free too, and
 * running the real `redis-cli` / `redis-benchmark` against a node.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { freePort } from './ports.js';

/** RESP_OFFSET is the default server.resp_port_offset. */
export const RESP_OFFSET = 1000;

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => {
      resolve(false);
    });
    srv.listen(port, host, () => {
      srv.close(() => {
        resolve(true);
      });
    });
  });
}

/** freeNodeAddress returns "host:port" with both port and port + RESP_OFFSET free right now. */
export async function freeNodeAddress(host = '127.0.0.1'): Promise<string> {
  for (;;) {
    const port = await freePort(host);
    if (port + RESP_OFFSET <= 65535 && (await isFree(host, port + RESP_OFFSET))) return `${host}:${port}`;
  }
}

/** respOf returns a node address's RESP address (default offset). */
export function respOf(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) + RESP_OFFSET };
}

/** ToolResult is the outcome of one redis-cli or redis-benchmark run. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** runTool runs a command to completion (bounded by `timeoutMs`), optionally with stdin. */
export function runTool(
  cmd: string,
  args: string[],
  input?: Buffer,
  timeoutMs = 120000,
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** redisCli runs `redis-cli -h host -p port args...` against a node address's RESP port and returns stdout. */
export async function redisCli(address: string, args: string[], extra: string[] = []): Promise<string> {
  const { host, port } = respOf(address);
  const r = await runTool('redis-cli', ['-h', host, '-p', String(port), ...extra, ...args]);
  if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
