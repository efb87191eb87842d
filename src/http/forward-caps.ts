/**
 * Forward caps: how many bytes the answer to a forwarded request can hold (forward-silence.ts,
 * AnswerCap), worked out from what the owner was asked, so that a legitimate answer always fits
 * and an owner that sends more (broken, hostile, or an endless body) is cut with its cap named:
 *  - a relayed single-key request (`--proxy`): one value at most (`server.max_value_bytes`: GET
 *    /kv/K's body, the seed's "Value: <v>"), plus ANSWER_SLACK_BYTES for the seed's text or a JSON
 *    error;
 *  - a scan part: the page the owner was asked for, as JSON. Its entries' keys and values come to at
 *    most `max_bytes` plus the entry that passes it (scatter-merge.ts, mergeScan), a key at most
 *    HARD_MAX_KEY_BYTES. A value goes as base64 (4/3 of its bytes); a key as JSON text (up to 6
 *    bytes per byte: a control byte is `\u00XX`) and, when it is not UTF-8, as base64 too (at most
 *    KEY_JSON_FACTOR = 8 per byte for both); each item adds its field names and version
 *    (ITEM_BYTES), and the page its cursor, lags and slack (ANSWER_SLACK_BYTES). With the
 *    defaults (`limit` 100, 4 MiB, 1 MiB values) about 39 MiB; with 64 MiB values about 122 MiB;
 *  - a batch part: one result per operation, `{"ok":true}` or an error whose message may quote its
 *    key (BATCH_RESULT_BYTES each), plus ANSWER_SLACK_BYTES.
 * A node with a smaller `server.max_value_bytes` than the owner's cuts a relayed or scanned value
 * past its own bound (the nodes of a cluster share one sharding.toml: they agree).
 */
import { HARD_MAX_KEY_BYTES } from '../config/schema.js';
import type { AnswerCap } from './forward-silence.js';

/** ANSWER_SLACK_BYTES is what an answer may hold beyond its items: a JSON error, a cursor, lags, the seed's text. */
export const ANSWER_SLACK_BYTES = 64 * 1024;
/** KEY_JSON_FACTOR bounds a key's bytes in a scan item: as JSON text (6 per byte at most) and as base64. */
const KEY_JSON_FACTOR = 8;
/** ITEM_BYTES bounds a scan item's field names, quotes and version ("E.S", two u53s). */
const ITEM_BYTES = 160;
/** BATCH_RESULT_BYTES bounds one result of a batch part: an error's code and message, which may quote a key. */
const BATCH_RESULT_BYTES = 8 * 1024 + KEY_JSON_FACTOR * HARD_MAX_KEY_BYTES;

/** relayCap is the cap of a relayed single-key answer on a node whose values are at most `maxValueBytes`. */
export function relayCap(maxValueBytes: number): AnswerCap {
  return {
    bytes: maxValueBytes + ANSWER_SLACK_BYTES,
    bound: `server.max_value_bytes ${maxValueBytes} plus ${ANSWER_SLACK_BYTES} bytes`,
  };
}

/** scanCap is the cap of a scan part's answer asked for `limit` entries and `maxBytes` (see above). */
export function scanCap(limit: number, maxBytes: number, maxValueBytes: number): AnswerCap {
  const keys = maxBytes + HARD_MAX_KEY_BYTES;
  const values = maxBytes + maxValueBytes;
  return {
    bytes: KEY_JSON_FACTOR * keys + Math.ceil((values * 4) / 3) + limit * ITEM_BYTES + ANSWER_SLACK_BYTES,
    bound: `a page of limit ${limit} and max_bytes ${maxBytes} with values of at most ${maxValueBytes} bytes, as JSON`,
  };
}

/** batchCap is the cap of a batch part's answer for `ops` operations. */
export function batchCap(ops: number): AnswerCap {
  return {
    bytes: ops * BATCH_RESULT_BYTES + ANSWER_SLACK_BYTES,
    bound: `${ops} results of at most ${BATCH_RESULT_BYTES} bytes`,
  };
}
