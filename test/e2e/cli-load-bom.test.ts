/**
 * `distkv load` reads a file that starts with a UTF-8 byte order mark and ends its lines with CRLF,
 * as Windows editors save it: the mark is skipped, the first line's key is loaded without it. It
 * used to stop at line 1: "not JSON (Unexpected token '\ufeff' ...)". A mark inside the file (not at its
 * start) is no mark: that line is still refused.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});

describe('distkv load of a file saved with a byte order mark', () => {
  it('skips the mark at the start of the file and loads every line', async () => {
    const dir = tempDir(after);
    const [port] = await freePorts(1);
    const address = `127.0.0.1:${String(port)}`;
    const config = writeConfig(dir, [{ address }], '[server]\nresp_port_offset = 0');
    const data = join(dir, 'data');

    const inside = join(dir, 'mark-inside.jsonl');
    writeFileSync(inside, '{"key":"a","value":"1"}\r\n\ufeff{"key":"b","value":"2"}\r\n');
    const refused = await runCli(['load', inside, '--config', config, '--data-dir', data]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /line 2: not JSON/);

    const file = join(dir, 'windows.jsonl');
    writeFileSync(file, '\ufeff{"key":"a","value":"1"}\r\n{"key":"b","value":"2"}\r\n');
    const r = await runCli(['load', file, '--config', config, '--data-dir', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /loaded 2 lines/);

    server = await ServerProcess.start(
      ['--config', config, '--data-dir', data, '--workers', '1'],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
      30000,
    );
    for (const [key, value] of [
      ['a', '1'],
      ['b', '2'],
    ]) {
      const got = await fetch(`http://${address}/kv/${key}`);
      assert.equal(got.status, 200, key);
      assert.equal(await got.text(), value);
    }
    const marked = await fetch(`http://${address}/kv/${encodeURIComponent('\ufeffa')}`);
    assert.equal(marked.status, 404, 'no key holds the mark');
    await marked.arrayBuffer();
  });
});
