/**
 * The cut proxy (test/helpers/cut-proxy.ts) closes every connection it drops, also one that is
 * closing already when it is cut or closed: its peer's FIN was read in the same turn, so the socket
 * (or the pipe to its pair) has called `end()` and a shutdown is pending. Reset then, the socket's
 * handle was never closed (libuv refuses the reset, Node 20 marks the handle closing all the same),
 * and the process, once its tests were done, spun at exit for ever: node:test waited for it, as it
 * did for test/e2e/failover-partition.test.ts (the old leader's etcd connection runs through the
 * proxy), seen passing and then spinning.
 *
 * Each case runs in its own process, which must end by itself: on the old code it spun until
 * killed. The FIN comes from the client's side or from the target's, and the proxy is cut (then
 * closed) or closed in the turn it is read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const helper = fileURLToPath(new URL('../helpers/cut-proxy.js', import.meta.url));

/** EXIT_MS bounds the child's run: it needs well under a second of its own (a starved machine: more). */
const EXIT_MS = 20_000;

/**
 * The child: a target server, the proxy in front of it, one client connection through it. The
 * proxy's two sockets of that connection are taken from node:diagnostics_channel as they are made
 * (the proxy exposes none; the client's own socket is made before the subscription); when the one
 * that receives the FIN reads it, the proxy is cut or closed in that turn (process.nextTick). It
 * prints them and those that have not emitted 'close' 2 s later, closes the rest and returns:
 * nothing else keeps it alive.
 */
function script(how: 'cut' | 'close', finFrom: 'client' | 'target'): string {
  return `
import { connect, createServer } from 'node:net';
import { subscribe } from 'node:diagnostics_channel';
import { startCutProxy } from ${JSON.stringify(helper)};
const finFrom = ${JSON.stringify(finFrom)};
const target = createServer((s) => {
  s.on('error', () => undefined);
  if (finFrom === 'target') s.end();
});
await new Promise((r) => target.listen(0, '127.0.0.1', r));
const proxy = await startCutProxy('127.0.0.1', '127.0.0.1', target.address().port);
const client = connect(Number(new URL(proxy.url).port), '127.0.0.1');
client.on('error', () => undefined);
const sockets = {};
const closed = new Set();
let dropped;
const done = new Promise((resolve) => (dropped = resolve));
const track = (name, socket) => {
  sockets[name] = socket;
  socket.on('close', () => closed.add(name));
  if (name === (finFrom === 'client' ? 'fromClient' : 'toTarget'))
    socket.once('end', () =>
      process.nextTick(() => {
        if (${JSON.stringify(how)} === 'cut') proxy.cut();
        dropped(proxy.close());
      }),
    );
};
subscribe('net.server.socket', ({ socket }) => track('fromClient', socket));
subscribe('net.client.socket', ({ socket }) => track('toTarget', socket));
if (finFrom === 'client') client.once('connect', () => setTimeout(() => client.end(), 50));
await done;
await new Promise((r) => setTimeout(r, 2000));
const tracked = Object.keys(sockets).sort();
console.log(JSON.stringify({ tracked, open: tracked.filter((n) => !closed.has(n)) }));
client.destroy();
target.close();
`;
}

/**
 * run starts the child and answers its output and exit code, or throws once EXIT_MS passed (after
 * killing it). It waits for 'close', not 'exit': on a busy machine 'exit' came before the child's
 * last line was read from its pipe (a fresh-clone CI run failed so, on an empty output).
 */
function run(text: string): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', text]);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `the process did not exit within ${EXIT_MS} ms of its start (a socket handle left open keeps it spinning at exit); its output: ${out}`,
        ),
      );
    }, EXIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
  });
}

describe('a cut proxy dropping a connection whose peer just closed', { concurrency: true }, () => {
  for (const how of ['cut', 'close'] as const)
    for (const finFrom of ['client', 'target'] as const)
      it(`${how} in the turn the ${finFrom}'s FIN is read: every socket closes, the process exits`, async () => {
        const { out, code } = await run(script(how, finFrom));
        assert.equal(code, 0, out);
        assert.deepEqual(
          JSON.parse(out.trim().split('\n').pop() ?? '{}'),
          { tracked: ['fromClient', 'toTarget'], open: [] },
          out,
        );
      });
});
