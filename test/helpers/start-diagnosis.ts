/**
 * What a `distkv serve` child that did not become healthy was doing, for the harness's failure
 * message (server-process.ts). A fresh-clone CI run once failed a multi-host start: one of ten
 * nodes slept 30 s after loading (1.1 s of CPU, every thread sleeping) and its warn-level output
 * said nothing of where. The next such start says:
 * - what each thread sleeps in (Linux `/proc/PID/task/TID/wchan`: `do_epoll_wait` is an idle event
 *   loop, `futex_*` a lock or a condition, a file system function a disk), read without the
 *   child's help, so also when its main thread is stuck in a system call;
 * - Node's diagnostic report, asked for with SIGUSR2 (`reportEnv`): the JavaScript stack at that
 *   moment and the event loop's active handles (its sockets with their ends, its timers with when
 *   they fire). No report within REPORT_WAIT_MS says the main thread never reached JavaScript.
 * - The kernel's queues of the sockets on the probed port (`/proc/net/tcp`): a connection whose
 *   receive queue holds bytes is one whose request the server did not read; one whose send queue
 *   holds bytes, an answer its client did not read; a listener's receive queue, connections not
 *   yet accepted. A CI start once had 6 connections open on its port and answered none, its event
 *   loop idle: this says on which side the request stopped.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** REPORT_WAIT_MS bounds the wait for the report a child writes on SIGUSR2 (a starved child, on a loaded machine, takes seconds). */
const REPORT_WAIT_MS = 10_000;
/** MAX_HANDLES bounds the handles listed. */
const MAX_HANDLES = 40;

/** StartReport is where a child writes its report when asked (`reportEnv`, `diagnose`). */
export interface StartReport {
  file: string;
  /** env holds NODE_OPTIONS with the report options added to the caller's. */
  env: NodeJS.ProcessEnv;
}

/** reportEnv returns NODE_OPTIONS that make a child write its diagnostic report to a file of its own on SIGUSR2. */
export function reportEnv(base: NodeJS.ProcessEnv): StartReport {
  const name = `distkv-start-report-${randomBytes(6).toString('hex')}.json`;
  const options = [
    base.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? '',
    '--report-on-signal',
    '--report-signal=SIGUSR2',
    `--report-directory=${tmpdir()}`,
    `--report-filename=${name}`,
  ];
  return { file: join(tmpdir(), name), env: { NODE_OPTIONS: options.join(' ').trim() } };
}

/** threadWaits lists `pid`'s threads as `name state wchan` (empty off Linux or once it exited). */
export function threadWaits(pid: number | undefined): string[] {
  if (pid === undefined) return [];
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => {
      const read = (f: string): string => {
        try {
          return readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim();
        } catch {
          return '?';
        }
      };
      const stat = read('stat');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return `${read('comm')} ${state} ${read('wchan')}`;
    });
  } catch {
    return [];
  }
}

/** TCP_STATES names the states of `/proc/net/tcp` (include/net/tcp_states.h). */
const TCP_STATES = [
  '?',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
];

/** hexEnd is an address of `/proc/net/tcp` (`0100007F:2760`, IPv4 bytes in host order) as text. */
function hexEnd(hex: string): string {
  const [ip = '', p = '0'] = hex.split(':');
  const port = parseInt(p, 16);
  if (ip.length !== 8) return `[${ip}]:${port}`;
  const bytes = [6, 4, 2, 0].map((i) => parseInt(ip.slice(i, i + 2), 16));
  return `${bytes.join('.')}:${port}`;
}

/**
 * socketQueues lists the sockets whose local port is `port` (the server's side) with their state
 * and kernel queues: `recv-q` bytes not read by the server (a listener: connections not accepted),
 * `send-q` bytes the client did not take. Empty off Linux.
 */
export function socketQueues(port: number): string[] {
  const rows: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const local = hexEnd(f[1]!);
      if (!local.endsWith(`:${port}`)) continue;
      const [tx = '0', rx = '0'] = f[4]!.split(':');
      const state = TCP_STATES[parseInt(f[3]!, 16)] ?? f[3]!;
      rows.push(
        `  ${local} <- ${hexEnd(f[2]!)} ${state} recv-q ${parseInt(rx, 16)} send-q ${parseInt(tx, 16)}`,
      );
    }
  }
  return [`sockets on port ${port} (the kernel's queues):`, ...(rows.length === 0 ? ['  none'] : rows)];
}

interface ReportHandle {
  type?: string;
  is_active?: boolean;
  is_referenced?: boolean;
  localEndpoint?: { host?: string; port?: number } | null;
  remoteEndpoint?: { host?: string; port?: number } | null;
  firesInMsFromNow?: number;
  signal?: string;
  filename?: string;
  writeQueueSize?: number;
}

interface Report {
  javascriptStack?: { message?: string; stack?: string[] };
  libuv?: ReportHandle[];
}

const end = (e: ReportHandle['localEndpoint']): string =>
  e === null || e === undefined ? '-' : `${e.host ?? '?'}:${String(e.port ?? '?')}`;

/** handleText is one active handle of a report, with what identifies it. */
function handleText(h: ReportHandle): string {
  const ref = h.is_referenced === false ? ' (unref)' : '';
  if (h.type === 'tcp') {
    const queued = (h.writeQueueSize ?? 0) > 0 ? `, ${h.writeQueueSize} bytes queued to write` : '';
    return `tcp ${end(h.localEndpoint)} -> ${end(h.remoteEndpoint)}${queued}${ref}`;
  }
  if (h.type === 'timer') return `timer in ${String(h.firesInMsFromNow)} ms${ref}`;
  if (h.type === 'signal') return `signal ${String(h.signal)}`;
  if (h.type === 'fs_event' || h.type === 'fs_poll') return `${h.type} ${String(h.filename)}`;
  return `${String(h.type)}${ref}`;
}

/**
 * diagnose asks the child `pid` for its report (SIGUSR2; it must have been spawned with
 * `report.env`) and returns the lines that say what it waited on: its threads' waits, its
 * JavaScript stack and its active handles. The report file is removed.
 */
export async function diagnose(
  pid: number | undefined,
  report: StartReport,
  port?: number,
): Promise<string[]> {
  const out = [`threads (name state wchan): ${threadWaits(pid).join(', ')}`];
  if (port !== undefined) out.push(...socketQueues(port));
  if (pid === undefined) return out;
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return [...out, 'no report: the process is gone'];
  }
  const deadline = Date.now() + REPORT_WAIT_MS;
  let doc: Report | undefined;
  while (doc === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(report.file)) continue;
    try {
      doc = JSON.parse(readFileSync(report.file, 'utf8')) as Report;
    } catch {
      // still being written
    }
  }
  rmSync(report.file, { force: true });
  if (doc === undefined)
    return [
      ...out,
      `no report within ${REPORT_WAIT_MS} ms of SIGUSR2: its main thread did not run JavaScript`,
    ];
  const stack = doc.javascriptStack;
  const handles = (doc.libuv ?? []).filter((h) => h.is_active === true && h.type !== 'loop');
  const shown = handles.filter((h) => h.type !== 'async' && h.type !== 'check' && h.type !== 'prepare');
  return [
    ...out,
    `JavaScript stack: ${stack?.message === '' || stack?.message === undefined ? '(idle in the event loop)' : stack.message}`,
    ...(stack?.stack ?? []).slice(0, 12).map((l) => `  ${l.trim()}`),
    `active handles (${handles.length}, ${handles.length - shown.length} async/check/prepare not listed):`,
    ...shown.slice(0, MAX_HANDLES).map((h) => `  ${handleText(h)}`),
  ];
}
