/**
 * `distkv backup ""` (a script's $FILE unset) is refused at once, exit 2, before any node is asked.
 * It copied every shard into ".partial", then failed with "cannot rename .partial to : no such
 * file or directory", having copied the whole cluster for nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';

describe('distkv backup with an empty FILE', () => {
  it('is refused before any node is asked, exit 2', async () => {
    // Nothing listens at port 1: a backup that asked a node would wait 10 s, then exit 1.
    const r = await runCli(['backup', '', '--url', '127.0.0.1:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.split('\n')[0],
      'distkv backup: FILE is empty: name the file to write the backup to (nothing was copied)',
    );
  });
});
