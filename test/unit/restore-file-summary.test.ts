/**
 * What `distkv restore` makes of its FILE's summary (the JSON at its end, docs/backup-format.md
 * "The summary") and of files that are no backup on disk, before anything is written:
 * - a file whose shard sections differ from the shards its summary lists is refused (exit 2),
 *   the message naming each difference; it was restored in part with exit 0, its summary unread;
 * - a summary of another shape (no `shards` list, a shard without its key count) still reads,
 *   checked as far as it goes; bytes between the summary and the crc, or a summary that is not
 *   JSON, are refused;
 * - a file whose size reads 0 but that holds bytes (/proc/self/status) is refused as no file on
 *   disk; it was called "empty (0 bytes)";
 * - a shard backed up with --allow-fuzzy is named in the result line and in --json.
 * No node is asked for a refused file (nothing listens at port 1).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sectionProblems } from '../../src/cli/backup-sections.js';
import { fuzzyText } from '../../src/cli/restore-file.js';
import { type PartSection, refusalOf, summaryOf, writeBackupParts } from '../helpers/backup-file-parts.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

const dir = tempDir(after);

const writeFile = (name: string, sections: PartSection[], meta: unknown, extra?: Buffer): string =>
  writeBackupParts(dir, name, sections, meta, extra);

describe('distkv restore checks its FILE against its summary', () => {
  it('refuses a file lacking a listed shard, exit 2, naming the shard and nothing asked', async () => {
    const file = writeFile(
      'missing.dkvb',
      [{ idx: 0, keys: ['a', 'b'] }],
      summaryOf([
        { idx: 0, keys: 2 },
        { idx: 1, keys: 3 },
      ]),
    );
    const r = await runCli(['restore', file, '--url', '127.0.0.1:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /is not a usable backup: its shard sections do not match the shards its summary lists: shard 1 \(shard-1\) is listed with 3 keys but has no section/,
    );
  });

  it('names each difference: a section twice, a count short, a section not listed, a shard listed twice', () => {
    const sections = [
      { idx: 0, consistent: true, keys: 2 },
      { idx: 0, consistent: true, keys: 1 },
      { idx: 1, consistent: true, keys: 4 },
      { idx: 7, consistent: true, keys: 1 },
    ];
    const listed = [
      { idx: 0, name: 'shard-0', keys: 2 },
      { idx: 1, name: 'shard-1', keys: 5 },
      { idx: 1, name: 'shard-1', keys: 5 },
    ];
    assert.deepEqual(sectionProblems(sections, listed), [
      'shard 0 (shard-0) has 2 sections (2 keys, 1 key), where the summary lists one with 2 keys',
      'shard 1 (shard-1) has 4 keys in its section, where the summary lists 5 keys',
      'shard 1 (shard-1) is listed twice in the summary',
      'shard 7 has a section but is not listed in the summary',
    ]);
  });

  it('counts every entry, an expired one too (backup counted what it wrote)', async () => {
    const file = writeFile(
      'whole.dkvb',
      [
        { idx: 0, keys: ['a'] },
        { idx: 2, keys: [] },
      ],
      summaryOf([
        { idx: 0, keys: 1 },
        { idx: 2, keys: 0 },
      ]),
    );
    assert.equal(await refusalOf(file), undefined);
  });

  it('reads a summary of another shape: no shards list, or a shard without its count', async () => {
    const noList = writeFile('no-list.dkvb', [{ idx: 0, keys: ['a'] }], { created: 'x', source: 'y' });
    assert.equal(await refusalOf(noList), undefined);
    const noCount = writeFile('no-count.dkvb', [{ idx: 0, keys: ['a'] }], {
      shards: [{ idx: 0, name: 'shard-0' }],
    });
    assert.equal(await refusalOf(noCount), undefined);
    // Without its count a listed shard must still have its section.
    const noCountMissing = writeFile('no-count-missing.dkvb', [{ idx: 0, keys: ['a'] }], {
      shards: [{ idx: 0 }, { idx: 1 }],
    });
    assert.match((await refusalOf(noCountMissing)) ?? '', /shard 1 is listed but has no section/);
  });

  it('refuses bytes between the summary and the crc, and a summary that is not JSON', async () => {
    const extra = writeFile(
      'extra.dkvb',
      [{ idx: 0, keys: ['a'] }],
      summaryOf([{ idx: 0, keys: 1 }]),
      Buffer.from('xyz'),
    );
    assert.match((await refusalOf(extra)) ?? '', /it holds 3 bytes between its summary and its crc/);
    const notJson = writeFile('not-json.dkvb', [{ idx: 0, keys: ['a'] }], Buffer.from('{"shards": ['));
    assert.match((await refusalOf(notJson)) ?? '', /its summary \(the JSON at its end\) is not JSON/);
  });

  it(
    'refuses a file whose size reads 0 but holds bytes (/proc), exit 2, not "empty"',
    { skip: !existsSync('/proc/self/status') },
    async () => {
      const r = await runCli(['restore', '/proc/self/status', '--url', '127.0.0.1:1']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /\/proc\/self\/status is not a file on disk: its size reads 0 bytes yet it holds bytes/,
      );
      assert.doesNotMatch(r.stderr, /empty/);
    },
  );
});

describe('distkv restore names the shards backed up with --allow-fuzzy', () => {
  let node: HandlerTwin;
  before(async () => {
    node = await startOneShardTwin((req, res) => {
      const url = new URL(req.url ?? '/', 'http://twin');
      if (req.method === 'GET' && url.pathname === '/kv') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[],"next":null}');
        return;
      }
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        if (req.method === 'POST' && url.pathname === '/kv/_batch') {
          const doc = JSON.parse(Buffer.concat(parts).toString()) as unknown[] | { ops: unknown[] };
          const ops = Array.isArray(doc) ? doc : doc.ops;
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ results: ops.map(() => ({ ok: true })), errors: 0 }));
          return;
        }
        res.writeHead(404).end();
      });
    });
  });
  after(async () => {
    await node.stop();
  });

  it('says which shard was copied while written to, in its line and in --json', async () => {
    const file = writeFile(
      'fuzzy.dkvb',
      [{ idx: 0, keys: ['a', 'b'], consistent: false }],
      summaryOf([{ idx: 0, keys: 2, consistent: false }]),
    );
    const r = await runCli(['restore', file, '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /restored 2 keys from .*; shard 0 \(shard-0\) was backed up with --allow-fuzzy \(written to during the copy\)/,
    );
    const j = await runCli(['restore', file, '--url', node.address, '--json', '--force']);
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual((JSON.parse(j.stdout) as { fuzzy_shards?: number[] }).fuzzy_shards, [0]);
  });

  it('names at most five fuzzy shards in the line, counting the others', () => {
    const text = fuzzyText(Array.from({ length: 7 }, (_, idx) => ({ idx, name: `s${idx}` })));
    assert.match(
      text,
      /^; shards 0 \(s0\), 1 \(s1\), 2 \(s2\), 3 \(s3\), 4 \(s4\) and 2 more were backed up with --allow-fuzzy/,
    );
  });

  it('says nothing of it for a consistent backup', async () => {
    const file = writeFile('exact.dkvb', [{ idx: 0, keys: ['a'] }], summaryOf([{ idx: 0, keys: 1 }]));
    const r = await runCli(['restore', file, '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /fuzzy/);
  });
});
