import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BatchOp, decodeBase64, parseBatch } from '../../src/http/batch-parse.js';
import { hasConditions } from '../../src/http/conditional-batch.js';
import {
  encodeValue,
  mergeScan,
  parseShardList,
  planBatch,
  planScan,
  toWireOp,
  worstLag,
} from '../../src/http/scatter-merge.js';
import type { Target } from '../../src/server/node-plan.js';
import { DistkvError } from '../../src/errors.js';
import { errorCode } from '../helpers/error-code.js';

const local = (store: number, role: 'leader' | 'replica' = 'leader'): Target => ({
  local: true,
  worker: 0,
  store,
  role,
  leaderStore: undefined,
});
const remote = (address: string): Target => ({ local: false, address });
const entry = (key: string, value = key): { key: Uint8Array; value: Uint8Array } => ({
  key: Buffer.from(key),
  value: Buffer.from(value),
});

describe('scan planning and merging', () => {
  // shard 0: leader here; shard 1: only a replica here; shards 2 and 3: led by B; shard 4: led by C
  const writes = [local(0), remote('B'), remote('B'), remote('B'), remote('C')];
  const reads = [local(0), local(1, 'replica'), remote('B'), remote('B'), remote('C')];

  it('reads hosted stores (leader first, else a replica) and groups the other shards by owner', () => {
    const plan = planScan([0, 1, 2, 3, 4], writes, reads, false);
    assert.deepEqual(
      plan.local.map((p) => [p.shard, p.target.store]),
      [
        [0, 0],
        [1, 1],
      ],
    );
    assert.deepEqual(
      [...plan.remote],
      [
        ['B', [2, 3]],
        ['C', [4]],
      ],
    );
    assert.deepEqual(plan.missing, []);
  });

  it('with local=1 reports the shards it does not host as missing instead of asking their owners', () => {
    const plan = planScan([0, 1, 2, 3, 4], writes, reads, true);
    assert.equal(plan.remote.size, 0);
    assert.deepEqual(plan.missing, [2, 3, 4]);
  });

  it('with leader=1 asks the leader of a shard it only replicates instead of reading its replica', () => {
    const plan = planScan([0, 1, 2], writes, reads, false, true);
    assert.deepEqual(
      plan.local.map((p) => p.shard),
      [0],
    );
    assert.deepEqual([...plan.remote], [['B', [1, 2]]]);
  });

  it("gives a page the worst of its replica parts' lags: unknown above any seqs, the longest silence first", () => {
    assert.equal(worstLag({}), undefined);
    assert.equal(worstLag({ 1: '3', 2: '12', 4: '0' }), '12');
    assert.equal(
      worstLag({ 1: '900000', 2: 'disconnected; last-contact-ms=4000', 3: 'starting; last-contact-ms=120' }),
      'disconnected; last-contact-ms=4000',
    );
    assert.equal(
      worstLag({ 1: 'disconnected; last-contact-ms=99999', 2: 'resyncing; no-contact' }),
      'resyncing; no-contact',
    );
  });

  it('reads the shards of a forwarded part as distinct indexes below the shard count', () => {
    assert.deepEqual(parseShardList('3,1,3', 4), [1, 3]);
    for (const bad of ['', '4', '-1', '1,,2', 'a', '1.5', ' 1'])
      assert.throws(() => parseShardList(bad, 4), /shards must list/, JSON.stringify(bad));
  });

  it('merges parts in key byte order, cuts to the limit and sets next when anything is left', () => {
    const pages = [
      { entries: [entry('b'), entry('d')], more: false },
      { entries: [entry('a'), entry('c'), entry('é')], more: false },
    ];
    const r = mergeScan(pages, 3, false);
    assert.deepEqual(
      r.items.map((i) => i.key),
      ['a', 'b', 'c'],
    );
    assert.equal(r.next, 'c');
    const all = mergeScan(pages, 10, false);
    assert.deepEqual(
      all.items.map((i) => i.key),
      ['a', 'b', 'c', 'd', 'é'],
    );
    assert.equal(all.next, null);
    assert.equal(mergeScan([{ entries: [entry('a')], more: true }], 10, false).next, 'a', 'a part had more');
    assert.deepEqual(mergeScan([], 10, false), { items: [], next: null });
  });

  it('gives a key that is not UTF-8 exactly as key_base64, and the next cursor on it as nextBase64', () => {
    const bin = (...bytes: number[]) => ({ key: Buffer.from(bytes), value: Buffer.from('v') });
    // q\x801 and q\x802 both show as "q\uFFFD..."; resuming after that text (EF BF BD) skipped q\x802.
    const page = mergeScan(
      [{ entries: [bin(0x71, 0x80, 0x31), bin(0x71, 0x80, 0x32)], more: false }],
      1,
      false,
    );
    assert.deepEqual(page.items, [{ key: 'q\uFFFD1', key_base64: 'cYAx', value: 'v' }]);
    assert.equal(page.next, 'q\uFFFD1');
    assert.equal(page.nextBase64, 'cYAx');
    const text = mergeScan([{ entries: [entry('q\uFFFD1'), entry('r')], more: false }], 1, false);
    assert.deepEqual(text.items, [{ key: 'q\uFFFD1', value: 'q\uFFFD1' }], 'U+FFFD itself is UTF-8');
    assert.equal(text.nextBase64, undefined);
  });

  it('gives values as UTF-8 text when they are, else (or when asked) as base64', () => {
    assert.deepEqual(encodeValue(Buffer.from('héllo'), false), { value: 'héllo' });
    assert.deepEqual(encodeValue(Buffer.from([0xff, 0x00]), false), { value_base64: '/wA=' });
    // a value's leading byte order mark is part of it: a scan must not drop it
    const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]);
    assert.deepEqual(encodeValue(bom, false), { value: '\ufeffhi' });
    assert.deepEqual(Buffer.from((encodeValue(bom, false) as { value: string }).value), bom);
    assert.deepEqual(encodeValue(Buffer.from('x'), true), { value_base64: 'eA==' });
  });
});

describe('batch parsing and planning', () => {
  const parse = (doc: unknown): BatchOp[] => parseBatch(Buffer.from(JSON.stringify(doc)), 1024, 16);

  it('refuses a body that is not a list of operations as a whole', () => {
    assert.equal(
      errorCode(() => parseBatch(Buffer.from('{not json'), 1024, 16)),
      'INVALID_BODY',
    );
    assert.equal(
      errorCode(() => parse({ nope: 1 })),
      'INVALID_BODY',
    );
    assert.deepEqual(parse({ ops: [{ op: 'delete', key: 'a' }] }), [{ op: 'delete', key: 'a' }]);
  });

  it('refuses a body that is not UTF-8 instead of storing U+FFFD in place of its bytes', () => {
    // Raw bytes in a JSON string (a client that writes bytes, not UTF-8) were decoded lossily:
    // "k\xff" was stored as "k\ufffd" and the value "v\xc3(" as "v\ufffd(", and the batch
    // answered ok. The bytes belong in value_base64.
    const raw = (json: string, bytes: number[]): Buffer =>
      Buffer.concat([
        Buffer.from(json.slice(0, json.indexOf('#'))),
        Buffer.from(bytes),
        Buffer.from(json.slice(json.indexOf('#') + 1)),
      ]);
    for (const body of [
      raw('{"ops":[{"op":"set","key":"k#","value":"v"}]}', [0xff]),
      raw('[{"op":"set","key":"k","value":"v#("}]', [0xc3]),
      raw('[{"op":"delete","key":"#"}]', [0xed, 0xa0, 0x80]),
    ]) {
      assert.throws(
        () => parseBatch(body, 1024, 16),
        (err: Error) =>
          err instanceof DistkvError && err.code === 'INVALID_BODY' && /not UTF-8/.test(err.message),
        body.toString('latin1'),
      );
    }
    // Valid UTF-8 beyond ASCII is untouched.
    assert.deepEqual(parseBatch(Buffer.from('[{"op":"set","key":"é","value":"😀"}]'), 1024, 16), [
      { op: 'set', key: 'é', value: Buffer.from('😀') },
    ]);
  });

  it('answers an invalid operation in its place: bad base64, a lone surrogate, a long value, a missing key', () => {
    const ops = parse([
      { op: 'set', key: 'a', value_base64: '!!!' },
      { op: 'set', key: 'b', value_base64: 'eA' },
      { op: 'set', key: '\ud800', value: 'x' },
      { op: 'set', key: 'c', value: '\udc00' },
      { op: 'set', key: 'd', value: 'x'.repeat(17) },
      { op: 'set', value: 'x' },
      { op: 'frob', key: 'e' },
      { op: 'set', key: 'ok', value_base64: 'eA==' },
    ]);
    assert.deepEqual(
      ops.map((o) => (o.op === 'invalid' ? o.error.code : o.op)),
      [
        'INVALID_BODY',
        'INVALID_BODY',
        'INVALID_KEY',
        'INVALID_BODY',
        'VALUE_TOO_LARGE',
        'MISSING_KEY',
        'INVALID_BODY',
        'set',
      ],
    );
    assert.deepEqual(ops[7], { op: 'set', key: 'ok', value: Buffer.from('x') });
  });

  it('refuses a field an operation does not take, so a typo is not a silent unconditional write', () => {
    // "ifMatch" (the client library's spelling) and "ttl" used to be ignored: the write went
    // through unconditionally and without a TTL, and answered ok.
    const cases: [unknown, RegExp][] = [
      [{ op: 'set', key: 'a', value: '1', ifMatch: '0.1' }, /ops\[0\]\.ifMatch: unknown field.*if_match/],
      [{ op: 'set', key: 'a', value: '1', ttl: 60000 }, /ops\[0\]\.ttl: unknown field.*ttl_ms/],
      [{ op: 'delete', key: 'a', value: '1' }, /ops\[0\]\.value: unknown field for a delete/],
      [
        { op: 'set', key: 'a', value: '1', value_base64: 'Mg==' },
        /ops\[0\]: give value or value_base64, not both/,
      ],
    ];
    for (const [op, message] of cases) {
      const parsed = parse([op])[0]!;
      assert.ok(parsed.op === 'invalid', JSON.stringify(op));
      assert.equal(parsed.error.code, 'INVALID_ARGUMENT', JSON.stringify(op));
      assert.match(parsed.error.message, message);
    }
    assert.deepEqual(parse([{ op: 'set', key: 'a', value: '1', ttl_ms: 5, if_match: '*' }])[0], {
      op: 'set',
      key: 'a',
      value: Buffer.from('1'),
      cond: { ifMatch: '*' },
      ttlMs: 5,
    });
  });

  it('forwards a set with expires_at_ms to its owner as the same instant, which parses back to it', () => {
    // Forwarded without it, a key sent to another node's shard would never expire.
    const at = Date.now() + 60_000;
    const op = parse([{ op: 'set', key: 'a', value: '1', expires_at_ms: at }])[0]!;
    assert.deepEqual(op, { op: 'set', key: 'a', value: Buffer.from('1'), expiresAtMs: at });
    assert.ok(op.op === 'set');
    const wire = toWireOp(op);
    assert.deepEqual(wire, { op: 'set', key: 'a', value_base64: 'MQ==', expires_at_ms: at });
    assert.deepEqual(parse([wire])[0], op);
  });

  it('makes a batch one with conditions when an operation asks for one, even malformed', () => {
    // ops[0]'s malformed if_match made it invalid, and the batch then counted as one without
    // conditions: ops[1] was written while ops[0] was refused, though a batch with conditions
    // that holds an invalid operation is refused whole (docs/api.md).
    const ops = parse([
      { op: 'set', key: 'a', value: '1', if_match: 'junk' },
      { op: 'set', key: 'b', value: '2' },
    ]);
    assert.equal(ops[0]!.op, 'invalid');
    assert.equal(hasConditions(ops), true);
    assert.equal(hasConditions(parse([{ op: 'delete', key: 'a', if_none_match: '*' }])), true);
    assert.equal(
      hasConditions(
        parse([
          { op: 'set', key: 'a', value: 1 },
          { op: 'set', key: 'b', value: '2' },
        ]),
      ),
      false,
    );
  });

  it('decodes only canonical base64', () => {
    assert.deepEqual(decodeBase64('', 'v'), Buffer.alloc(0));
    assert.deepEqual(decodeBase64('AAEC', 'v'), Buffer.from([0, 1, 2]));
    for (const bad of ['A', 'AA=', 'A===', 'AB C', 'AB-_'])
      assert.equal(
        errorCode(() => decodeBase64(bad, 'v')),
        'INVALID_BODY',
        bad,
      );
  });

  it('splits operations into local stores, remote owners, and answers given at once', () => {
    const writes = [local(0), remote('B')];
    const ops: BatchOp[] = [
      { op: 'set', key: 'k0', value: Buffer.from('v') },
      { op: 'delete', key: 'k1' },
      { op: 'invalid', error: { code: 'INVALID_KEY', message: 'x' } },
      { op: 'set', key: 'k1b', value: Buffer.from('w') },
    ];
    const shardOf = (key: string): number => (key.startsWith('k1') ? 1 : 0);
    const plan = planBatch(ops, shardOf, writes, false);
    assert.deepEqual(
      plan.local.map((p) => p.index),
      [0],
    );
    assert.deepEqual(
      plan.remote.get('B')?.map((p) => p.index),
      [1, 3],
    );
    assert.deepEqual(
      plan.settled.map((s) => s.index),
      [2],
    );
    assert.deepEqual(
      plan.remote.get('B')?.map((p) => toWireOp(p.op)),
      [
        { op: 'delete', key: 'k1' },
        { op: 'set', key: 'k1b', value_base64: 'dw==' },
      ],
    );
    const localOnly = planBatch(ops, shardOf, writes, true);
    assert.equal(localOnly.remote.size, 0);
    assert.deepEqual(
      localOnly.settled.map((s) => [s.index, s.result.ok ? 'ok' : s.result.error.code]),
      [
        [1, 'WRONG_NODE'],
        [2, 'INVALID_KEY'],
        [3, 'WRONG_NODE'],
      ],
    );
  });
});
