/**
 * Large keys for the tests of what a node holds for clients that ask for big answers
 * (unsent-budget, fairness-large-replies): keys `big-0`.. of tagged text of a given size, one
 * `small` key, and a count of the values' tags in what a client read.
 */
import assert from 'node:assert/strict';
import { taggedText } from './interleaved-writes.js';

/** putLargeKeys writes `big-0`..`big-(n-1)` (taggedText(`${tag}${k}`, bytes)) and `small` at `address`; it returns the values. */
export async function putLargeKeys(
  address: string,
  tag: string,
  n: number,
  bytes: number,
): Promise<string[]> {
  const values: string[] = [];
  for (let k = 0; k < n; k++) {
    const value = taggedText(`${tag}${k}`, bytes);
    values.push(value);
    const r = await fetch(`http://${address}/kv/big-${k}`, { method: 'PUT', body: value });
    assert.equal(r.status, 204);
  }
  const r = await fetch(`http://${address}/kv/small`, { method: 'PUT', body: 'small' });
  assert.equal(r.status, 204);
  return values;
}

/** count is how many times `needle` occurs in `text`, not overlapping. */
export function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}
