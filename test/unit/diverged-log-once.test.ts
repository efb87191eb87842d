/**
 * A replica told by its leader that it forked (409 DIVERGED) saves its records above the fork to a
 * divergence file, then resyncs. That is one event, and the node's log says it once, in the words
 * that name the file and the record count (saveFork, src/replication/diverged-file.ts). Before, the
 * follower also warned "the leader's history left this replica's at seq N (409 DIVERGED)" just
 * ahead of it, so every fork appeared twice among the warnings.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { capturedLog, forkOnOneWorker } from '../helpers/fork-fixture.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('a replica that forked', () => {
  it('logs the fork once, naming the divergence file and the record count', async () => {
    const root = tempDir(after);
    const { log, lines } = capturedLog();
    // The replica's first pull is answered DIVERGED with the fork at 3 (fork-fixture.ts).
    const pair = await forkOnOneWorker(root, '127.0.0.1:2', log);
    try {
      await pair.resynced();
      const warned = lines.filter((l) => l.level >= 40);
      const aboutFork = warned.filter((l) => l.fork === 3 || /DIVERGED|above seq 3/.test(l.msg));
      assert.equal(
        aboutFork.length,
        1,
        `the fork was logged ${aboutFork.length} times:\n${aboutFork.map((l) => l.msg).join('\n')}`,
      );
      assert.match(aboutFork[0]!.msg, /holds 3 records above seq 3 .*: saved to .*\.diverged-\d+-4-6\.log/);
    } finally {
      await pair.close();
    }
  });
});
