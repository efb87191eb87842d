/**
 * The check `distkv restore` makes of its FILE before it writes anything (restore-file.ts
 * openBackup): the crc, the version and every entry. The file's end also names every shard the
 * backup copied, with its key count (`meta.shards`: idx, name, seq, keys, consistent), and none of
 * it is read: a file whose sections do not match it (a shard's section missing, one section
 * twice, a section with fewer keys than its shard had) passes the check whenever its crc matches
 * (a file edited by hand, or put together from two backups, with the crc written again; or a
 * backup writer's slip in its cut-and-copy-again of a shard), and the restore then writes part of
 * the backup and reports success (exit 0, "restored N keys"), the missing shard's keys silently
 * absent.
 *
 * Expected: the sections are checked against the end's list of shards (each shard once, with the
 * key count the end gives), and a file where they differ is "not a usable backup" (exit 2),
 * nothing written.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type PartSection, refusalOf, summaryOf, writeBackupParts } from '../helpers/backup-file-parts.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

/** writeBackup writes a backup file holding `sections`, whose end lists `listed` (idx and keys). */
function writeBackup(name: string, sections: PartSection[], listed: { idx: number; keys: number }[]): string {
  return writeBackupParts(dir, name, sections, summaryOf(listed));
}

describe('restore checks the sections of its FILE against the shards its end lists', () => {
  it('takes a file whose sections are the shards its end lists', async () => {
    const file = writeBackup(
      'whole.dkvb',
      [
        { idx: 0, keys: ['a', 'b'] },
        { idx: 1, keys: ['c'] },
      ],
      [
        { idx: 0, keys: 2 },
        { idx: 1, keys: 1 },
      ],
    );
    assert.equal(await refusalOf(file), undefined);
  });

  it('refuses a file that lacks the section of a shard its end lists', async () => {
    const file = writeBackup(
      'missing.dkvb',
      [{ idx: 0, keys: ['a', 'b'] }],
      [
        { idx: 0, keys: 2 },
        { idx: 1, keys: 1 },
      ],
    );
    const why = await refusalOf(file);
    assert.ok(
      why !== undefined,
      'taken as usable: a restore writes shard 0 and reports success, shard 1 absent',
    );
  });

  it('refuses a file that holds the section of a shard twice', async () => {
    const file = writeBackup(
      'twice.dkvb',
      [
        { idx: 0, keys: ['a', 'b'] },
        { idx: 0, keys: ['a'] },
      ],
      [{ idx: 0, keys: 2 }],
    );
    assert.ok((await refusalOf(file)) !== undefined, 'taken as usable');
  });

  it('refuses a section with another number of keys than its end lists for the shard', async () => {
    const file = writeBackup('fewer.dkvb', [{ idx: 0, keys: ['a'] }], [{ idx: 0, keys: 2 }]);
    assert.ok((await refusalOf(file)) !== undefined, 'taken as usable');
  });
});
