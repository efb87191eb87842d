/**
 * `distkv scan --all` stopped part-way says so on stderr: how many keys it printed, that the
 * output is partial, and the option that goes on after the last one (`--after KEY`, or
 * `--after-base64` for a key that is not UTF-8). When its node goes away it then fails as before
 * (exit 1); on Ctrl-C it exits 130. It used to end with the error alone, or with nothing at all on
 * Ctrl-C, so `scan --json --all > dump.jsonl` looked complete to whoever read the file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BIN, REPO_ROOT } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** mode says what the twin does with a request for the second page. */
let mode: 'drop' | 'hold' = 'drop';
/** held are the answers of the second page kept waiting (mode "hold"). */
const held: ServerResponse[] = [];
let node: HandlerTwin;

/** FIRST_PAGE ends with a key that is not UTF-8 ("b\xff"), so the hint gives its bytes. */
const FIRST_PAGE = JSON.stringify({
  items: [
    { key: 'a', value_base64: Buffer.from('1').toString('base64') },
    { key: 'b\uFFFD', key_base64: Buffer.from([0x62, 0xff]).toString('base64'), value_base64: 'Mg==' },
  ],
  next: 'b\uFFFD',
  next_base64: Buffer.from([0x62, 0xff]).toString('base64'),
});

before(async () => {
  node = await startOneShardTwin((req, res) => {
    const url = req.url ?? '';
    if (!url.includes('after')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(FIRST_PAGE);
      return;
    }
    if (mode === 'drop') req.socket.destroy();
    else held.push(res);
  });
});

after(async () => {
  for (const res of held) res.destroy();
  await node.stop();
});

/** scan runs `distkv scan --all --json` against the twin; `onStdout` sees its output as it comes. */
function scan(onStdout: (all: string, kill: (s: NodeJS.Signals) => void) => void = () => undefined) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'scan', '--all', '--json', '--url', node.address], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_URL: '', DISTKV_TOKEN: '' },
      timeout: 60000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout(stdout, (s) => child.kill(s));
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe('scan --all stopped part-way', () => {
  it('says the output is partial and where to go on when its node goes away (exit 1)', async () => {
    mode = 'drop';
    const r = await scan();
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout.trimEnd().split('\n').length, 2, r.stdout);
    assert.match(
      r.stderr,
      /\(stopped after 2 keys: the output is partial; go on with --after-base64 Yv8=\)\ndistkv scan: SHARD_UNREACHABLE/,
    );
  });

  it('on Ctrl-C says the same and exits 130', async () => {
    mode = 'hold';
    let sent = false;
    const r = await scan((out, kill) => {
      // The first page is printed and the second asked for (held): then Ctrl-C.
      if (!sent && out.trimEnd().split('\n').length === 2) {
        sent = true;
        setTimeout(() => {
          kill('SIGINT');
        }, 500);
      }
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(
      r.stderr,
      /^distkv scan: interrupted \(stopped after 2 keys: the output is partial; go on with --after-base64 Yv8=\)\n$/,
    );
  });
});
