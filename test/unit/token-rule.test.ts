/**
 * The one rule for a bearer token (src/util/bearer-token.ts), for serve (`server.token`, `--token`,
 * DISTKV_TOKEN) and the client alike: visible ASCII, spaces or tabs only inside. Before, serve took
 * any token, and the client refused only control characters: a token both nodes shared with a
 * space at either end (the header's value is trimmed on the way), a CR, or a character outside
 * Latin-1 (undici refuses the header before sending it) left the replica unable to pull for ever,
 * and `distkv cluster --token 'tök€n'` said the node was unreachable. And `--token ""` did not
 * override DISTKV_TOKEN: the empty flag counted as not given.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkToken } from '../../src/util/bearer-token.js';
import { parseConfigText } from '../../src/config/load-config.js';
import { authError } from '../../src/http/auth.js';
import { HttpRequest } from '../../src/http/http1-exchange.js';
import { isHeadError, parseHead } from '../../src/http/http1-head.js';
import { DistkvError } from '../../src/errors.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { freePort } from '../helpers/ports.js';
import { runCli, spawnCli, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after, 'distkv-token-rule-');
const SEED_CONFIG = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';

/** problemOf is checkToken's message for `token`, or undefined when it is taken. */
function problemOf(token: string): string | undefined {
  try {
    checkToken(token);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof DistkvError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.message;
  }
}

/** configProblems are the problems parseConfigText reports, [] when it takes the config. */
function configProblems(text: string, overrides: Record<string, string>, env: NodeJS.ProcessEnv): string[] {
  try {
    parseConfigText(text, 't', overrides, env);
    return [];
  } catch (err) {
    return (err as { problems?: string[] }).problems ?? [String(err)];
  }
}

describe('the bearer token rule', () => {
  it('takes visible ASCII with inner spaces and tabs, and no token', () => {
    let ascii = '';
    for (let c = 0x21; c <= 0x7e; c++) ascii += String.fromCharCode(c);
    for (const t of ['', 'shared-token', 'a b', 'a\tb', 'x', ascii])
      assert.equal(problemOf(t), undefined, JSON.stringify(t));
  });

  it('refuses a space or tab at either end, naming it (a header value is trimmed on the way)', () => {
    assert.match(problemOf(' shared-token') ?? '', /token begins with a space/);
    assert.match(problemOf('\tshared-token') ?? '', /token begins with a tab/);
    assert.match(problemOf('shared-token ') ?? '', /token ends with a space \(offset 12\)/);
    assert.match(problemOf('shared-token\t') ?? '', /token ends with a tab \(offset 12\)/);
  });

  it('refuses a control character, naming it and its offset', () => {
    assert.match(
      problemOf('shared-token\r') ?? '',
      /holds a CR \(a file with CRLF line ends leaves one\) at offset 12/,
    );
    assert.match(problemOf('a\nb') ?? '', /holds a newline at offset 1/);
    assert.match(problemOf('ab\u007f') ?? '', /holds the control character U\+007F at offset 2/);
  });

  it('refuses a character outside ASCII, Latin-1 included, naming it and its offset', () => {
    assert.match(problemOf('shared-t\u20acken') ?? '', /holds "€" \(U\+20AC, not ASCII\) at offset 8/);
    assert.match(problemOf('t\u00f6k') ?? '', /holds "ö" \(U\+00F6, not ASCII\) at offset 1/);
    assert.match(problemOf('k\u{1f511}') ?? '', /holds "🔑" \(U\+1F511, not ASCII\) at offset 1/);
  });

  it('never repeats the token in its refusal (it is a secret)', () => {
    for (const t of ['very-secret-value ', 'very-secret-value\r', 'very-secret-valu\u20ac'])
      assert.doesNotMatch(problemOf(t) ?? '', /very-secret/);
  });

  it('takes only what arrives as written, in ASCII, and auth.ts accepts (seeded random)', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const alphabet = ['a', 'Z', '9', '-', '~', '!', '"', ' ', '\t', '\r', '\n', '\u007f', '\u00f6', '\u20ac'];
    const pick = (): string => alphabet[Math.floor(random() * alphabet.length)] ?? 'a';
    for (let n = 0; n < 2000; n++) {
      let token = '';
      const length = Math.floor(random() * 9);
      for (let i = 0; i < length; i++) token += pick();
      const taken = problemOf(token) === undefined;
      // What a fetch sends: undici's Headers normalizes (trims) or refuses the value.
      let sent: string | undefined;
      try {
        sent = new Headers({ authorization: `Bearer ${token}` }).get('authorization') ?? undefined;
      } catch {
        sent = undefined;
      }
      const arrives = sent === `Bearer ${token}`;
      let accepted = false;
      if (arrives && token !== '' && /^[\x20-\x7e\t]*$/.test(sent ?? '')) {
        const head = parseHead(
          ['GET /_repl/pull HTTP/1.1', 'Host: t', `Authorization: ${sent ?? ''}`].join('\r\n'),
        );
        accepted = !isHeadError(head) && authError(new HttpRequest(head), token) === undefined;
      }
      if (token === '') continue;
      const what = `seed ${String(seed)}: token ${JSON.stringify(token)}`;
      if (taken) assert.ok(accepted, `${what} is taken but does not arrive as written`);
      // The one kind the rule refuses that would travel: a leading tab, refused as a leading space is.
      else if (accepted) assert.match(token, /^\t/, `${what} is refused but travels as written`);
    }
  });
});

describe('the token of serve (server.token, --token, DISTKV_TOKEN)', () => {
  it('is checked by the same rule, naming where the token came from', () => {
    const file = configProblems(`${SEED_CONFIG}[server]\ntoken = "shared-token "\n`, {}, {});
    assert.equal(file.length, 1, file.join('\n'));
    assert.match(file[0] ?? '', /^server\.token: ends with a space \(offset 12\)/);
    const flag = configProblems(SEED_CONFIG, { 'server.token': 'shared-t\u20acken' }, {});
    assert.match(
      flag[0] ?? '',
      /^server\.token: holds "€" .* \(given on the command line, which overrides the file\)$/,
    );
    const env = configProblems(SEED_CONFIG, {}, { DISTKV_TOKEN: 'shared-token\r' });
    assert.match(
      env[0] ?? '',
      /^server\.token: holds a CR .* \(from DISTKV_TOKEN, as the file sets no server\.token\)$/,
    );
  });

  it('an explicit --token wins over DISTKV_TOKEN, even an empty one (no token)', () => {
    const env = { DISTKV_TOKEN: 'from-env' };
    assert.equal(parseConfigText(SEED_CONFIG, 't', { 'server.token': '' }, env).server.token, '');
    assert.equal(parseConfigText(SEED_CONFIG, 't', { 'server.token': 'flag' }, env).server.token, 'flag');
    assert.equal(parseConfigText(SEED_CONFIG, 't', {}, env).server.token, 'from-env');
    const file = `${SEED_CONFIG}[server]\ntoken = "in-file"\n`;
    assert.equal(parseConfigText(file, 't', {}, env).server.token, 'in-file');
  });

  it('serve exits 2 before anything opens, naming the token', async () => {
    const port = await freePort();
    const config = writeConfig(dir, [{ address: `127.0.0.1:${String(port)}` }]);
    const data = join(dir, 'data');
    // Bounded: a serve that takes the token runs until stopped.
    const cli = spawnCli(['serve', '--config', config, '--data-dir', data], {
      DISTKV_TOKEN: ' shared-token',
    });
    const timer = setTimeout(() => {
      process.kill(cli.pid, 'SIGKILL');
    }, 15000);
    const r = await cli.result.finally(() => {
      clearTimeout(timer);
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /server\.token: begins with a space.*\(from DISTKV_TOKEN/);
    assert.equal(existsSync(data), false, 'nothing was created');
  });
});

describe('the token of the client verbs', () => {
  it('a token a header cannot carry is a usage mistake (exit 2) naming --token, not an unreachable node', async () => {
    const r = await runCli([
      'cluster',
      '--token',
      't\u00f6k\u20acn',
      '--url',
      '127.0.0.1:1',
      '--refused-wait-ms',
      '0',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^distkv cluster: --token holds "ö" \(U\+00F6, not ASCII\) at offset 1/);
    const f = await runCli(['failover', '--shard', 's', '--url', '127.0.0.1:1'], { DISTKV_TOKEN: 'x ' });
    assert.equal(f.code, 2, f.stderr);
    assert.match(f.stderr, /^distkv failover: DISTKV_TOKEN ends with a space/);
  });

  it('--token "" sends no token even with DISTKV_TOKEN set, and --help says so', async () => {
    const r = await runCli(['get', 'k', '--token', '', '--url', '127.0.0.1:1', '--refused-wait-ms', '0'], {
      DISTKV_TOKEN: 'bad token\r',
    });
    assert.notEqual(r.code, 2, `DISTKV_TOKEN was read despite --token "":\n${r.stderr}`);
    for (const verb of ['get', 'serve']) {
      const help = await runCli([verb, '--help']);
      assert.match(help.stdout, /--token TOKEN .*--token "" (sends none|= none)/, verb);
    }
  });
});
