/**
 * RESP with a node token (`server.token`): connections must AUTH (or HELLO ... AUTH) before any
 * other command, with Redis's errors for a missing or wrong password.
 */
import assert from 'node:assert/strict';
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

  it('serves commands after AUTH <token> or HELLO 3 AUTH default <token>', async () => {
    assert.equal(await session(['AUTH s3cret', 'SET k v', 'GET k']), 'OK\nOK\nv\n');
    const hello = await session(['HELLO 3 AUTH default s3cret', 'GET k']);
    assert.match(hello, /^server redis\n[\s\S]*proto 3\n[\s\S]*\nv\n$/);
  });
});
