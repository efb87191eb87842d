/**
 * RESP with a node token (`server.token`): connections must AUTH (or HELLO ... AUTH) before any
 * other command, with Redis's errors for a missing or wrong password.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freeNodeAddress, respOf, runTool } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

/** session sends `lines` on one redis-cli connection and returns its output. */
async function session(lines: string[]): Promise<string> {
  const { host, port } = respOf(A);
  const r = await runTool(
    'redis-cli',
    ['-h', host, '-p', String(port)],
    Buffer.from(lines.join('\n') + '\n'),
  );
  return r.stdout;
}

before(async () => {
  A = await freeNodeAddress();
  ({ stop } = await startOwnServer([{ address: A }], '[server]\ntoken = "s3cret"\n', ['--workers', '1']));
});

after(() => stop());

describe('RESP AUTH with the node token', () => {
  it('refuses commands before AUTH with NOAUTH, and a wrong password with WRONGPASS', async () => {
    const out = await session(['GET k', 'AUTH nope', 'AUTH default nope', 'PING']);
    assert.equal(
      out,
      'NOAUTH Authentication required.\n\nWRONGPASS invalid username-password pair or user is disabled.\n\n' +
        'WRONGPASS invalid username-password pair or user is disabled.\n\nNOAUTH Authentication required.\n\n',
    );
  });

  it('closes a connection that sends more than 10 arguments or a bulk over 16 KiB before AUTH, as Redis does', async () => {
    const { host, port } = respOf(A);
    const attempt = (wire: string): Promise<string> =>
      new Promise((resolve) => {
        let out = '';
        const s = connect(port, host, () => s.write(wire));
        s.on('data', (d: Buffer) => (out += d.toString('latin1')));
        s.on('close', () => {
          resolve(`${out}[closed]`);
        });
        s.on('error', () => undefined);
        setTimeout(() => s.destroy(), 10000).unref();
      });
    assert.equal(
      await attempt('*11\r\n'),
      '-ERR Protocol error: unauthenticated multibulk length\r\n[closed]',
    );
    assert.equal(
      await attempt('*2\r\n$4\r\nAUTH\r\n$16385\r\n'),
      '-ERR Protocol error: unauthenticated bulk length\r\n[closed]',
    );
    const after = await attempt(`AUTH s3cret\r\n*11\r\n${'$1\r\nx\r\n'.repeat(11)}QUIT\r\n`);
    assert.match(after, /^\+OK\r\n-ERR unknown command 'x'[^\r]*\r\n\+OK\r\n\[closed\]$/);
  });

  it('serves commands after AUTH <token> or HELLO 3 AUTH default <token>', async () => {
    assert.equal(await session(['AUTH s3cret', 'SET k v', 'GET k']), 'OK\nOK\nv\n');
    const hello = await session(['HELLO 3 AUTH default s3cret', 'GET k']);
    assert.match(hello, /^server redis\n[\s\S]*proto 3\n[\s\S]*\nv\n$/);
  });
});
