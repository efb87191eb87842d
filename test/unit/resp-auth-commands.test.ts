/**
 * AUTH and HELLO ... AUTH (src/resp/commands-connection.ts) answer as redis-server 7.0 does, with
 * and without a token (Redis's `requirepass` and its `nopass` default user): without one, the
 * two-argument `AUTH default <anything>` succeeds (a client configured with a user and a password
 * still connects) and only the one-argument form is an error; any other user is WRONGPASS.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, hello } from '../../src/resp/commands-connection.js';
import { fakeConnection, takeReply } from '../helpers/fake-resp-connection.js';

/** session runs commands on a fake connection of a node whose token is `token` and returns each reply's first line. */
function session(token: string, ...commands: string[][]): string[] {
  const c = fakeConnection({
    id: 1,
    name: '',
    authenticated: token === '',
    ctx: { config: { server: { token } }, listener: { writes: [] } },
  });
  return commands.map((cmd) => {
    const args = cmd.map((a) => Buffer.from(a));
    if (cmd[0] === 'AUTH') auth(c, args);
    else hello(c, args);
    return takeReply(c).split('\r\n')[0]!;
  });
}

const NOPASS =
  '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?';
const WRONGPASS = '-WRONGPASS invalid username-password pair or user is disabled.';

describe('AUTH and HELLO AUTH', () => {
  it('without a token: AUTH default <any> is OK, AUTH <password> is the nopass error, other users WRONGPASS', () => {
    assert.deepEqual(
      session(
        '',
        ['AUTH', 'default', 'x'],
        ['AUTH', 'x'],
        ['AUTH', 'bob', 'x'],
        ['HELLO', '3', 'AUTH', 'bob', 'x'],
      ),
      ['+OK', NOPASS, WRONGPASS, WRONGPASS],
    );
    assert.deepEqual(session('', ['HELLO', '2', 'AUTH', 'default', 'x']), ['*14']);
  });

  it('with a token: only the user default with the token authenticates', () => {
    assert.deepEqual(
      session(
        'sekrit',
        ['AUTH', 'bad'],
        ['AUTH', 'bob', 'sekrit'],
        ['HELLO', '3', 'AUTH', 'default', 'bad'],
        ['AUTH', 'default', 'sekrit'],
      ),
      [WRONGPASS, WRONGPASS, WRONGPASS, '+OK'],
    );
    assert.deepEqual(session('sekrit', ['HELLO', '2', 'AUTH', 'default', 'sekrit']), ['*14']);
  });
});
