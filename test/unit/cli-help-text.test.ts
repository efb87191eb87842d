/**
 * `distkv <command> --help` of the client commands opens with a sentence, as the help of serve,
 * load and map does: it began in lower case ("print the value of a key (exit 1 when it does not
 * exist)."), the summary as `distkv --help` lists it, pasted into a paragraph.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKUP_VERB } from '../../src/cli/backup.js';
import { CLUSTER_VERBS } from '../../src/cli/cluster-commands.js';
import { clientVerbHelp } from '../../src/cli/connect.js';
import { KV_VERBS } from '../../src/cli/kv-commands.js';
import { RESTORE_VERB } from '../../src/cli/restore.js';
import { WATCH_VERBS } from '../../src/cli/watch-command.js';

describe('client command help', () => {
  it('opens its description with a capital letter and ends it with a full stop', () => {
    const verbs = {
      ...KV_VERBS,
      ...WATCH_VERBS,
      ...CLUSTER_VERBS,
      backup: BACKUP_VERB,
      restore: RESTORE_VERB,
    };
    for (const [name, verb] of Object.entries(verbs)) {
      const [usage, blank, sentence] = clientVerbHelp(verb).split('\n');
      assert.match(usage!, new RegExp(`^Usage: distkv ${name}\\b`), name);
      assert.equal(blank, '', name);
      assert.match(sentence!, /^[A-Z].*\.$/, `${name}: ${sentence!}`);
    }
  });
});
