/**
 * The check that a backup file's shard sections are the shards its summary lists (the meta's
 * `shards`: docs/backup-format.md, "The summary"), made with the rest of the parse before a
 * restore writes anything (backup-file.ts readEntries). The file's crc says only that the file
 * holds what was written: a file put together from two backups, edited by hand with its crc
 * written again, or a writer's slip in cutting and copying a shard again, matched its crc with a
 * shard's section missing, twice, or short of keys, and the restore wrote part of the backup and
 * exited 0. Each listed shard must have exactly one section, with the key count the summary gives
 * (when it gives one: every release wrote it, counting the entries of the section it wrote), and
 * no section may be of a shard not listed. A summary without a usable list (decodeMetaShards) is
 * not compared: nothing says what the sections should be.
 */
import { plural } from '../util/plural.js';
import type { ListedShard } from './backup-format.js';

/** SectionRead is one shard section as read: its shard, its consistent flag and its entry count. */
export interface SectionRead {
  idx: number;
  consistent: boolean;
  keys: number;
}

const keyCount = (n: number): string => plural(n, 'key');

/** SHOWN_PROBLEMS is how many differences a message names; it counts the others. */
const SHOWN_PROBLEMS = 5;

/**
 * sectionProblems lists, in shard order, how `sections` differ from `listed` (empty when they
 * match): a shard listed twice, a listed shard without a section or with several, a section whose
 * key count is not the listed one, a section of a shard not listed.
 */
export function sectionProblems(sections: readonly SectionRead[], listed: readonly ListedShard[]): string[] {
  const byIdx = new Map<number, SectionRead[]>();
  for (const s of sections) {
    const found = byIdx.get(s.idx);
    if (found === undefined) byIdx.set(s.idx, [s]);
    else found.push(s);
  }
  const seen = new Map<number, ListedShard>();
  const problems: { idx: number; text: string }[] = [];
  for (const l of listed) {
    const name = shardName(l);
    if (seen.has(l.idx)) {
      problems.push({ idx: l.idx, text: `${name} is listed twice in the summary` });
      continue;
    }
    seen.set(l.idx, l);
    const found = byIdx.get(l.idx) ?? [];
    const listedKeys = l.keys === undefined ? '' : ` with ${keyCount(l.keys)}`;
    if (found.length === 0)
      problems.push({ idx: l.idx, text: `${name} is listed${listedKeys} but has no section` });
    else if (found.length > 1)
      problems.push({
        idx: l.idx,
        text: `${name} has ${found.length} sections (${found.map((s) => keyCount(s.keys)).join(', ')}), where the summary lists one${listedKeys}`,
      });
    else if (l.keys !== undefined && found[0]!.keys !== l.keys)
      problems.push({
        idx: l.idx,
        text: `${name} has ${keyCount(found[0]!.keys)} in its section, where the summary lists ${keyCount(l.keys)}`,
      });
  }
  for (const [idx, found] of byIdx)
    if (!seen.has(idx))
      problems.push({
        idx,
        text: `shard ${idx} has ${found.length === 1 ? 'a section' : `${found.length} sections`} but is not listed in the summary`,
      });
  return problems.sort((a, b) => a.idx - b.idx).map((p) => p.text);
}

/**
 * checkSections throws, naming the first differences, unless `sections` are the shards `listed`
 * names (nothing to check when `listed` is undefined: a summary without a usable list).
 */
export function checkSections(
  sections: readonly SectionRead[],
  listed: readonly ListedShard[] | undefined,
): void {
  if (listed === undefined) return;
  const problems = sectionProblems(sections, listed);
  if (problems.length === 0) return;
  const shown = problems.slice(0, SHOWN_PROBLEMS).join('; ');
  const more = problems.length > SHOWN_PROBLEMS ? `; and ${problems.length - SHOWN_PROBLEMS} more` : '';
  throw new Error(
    `its shard sections do not match the shards its summary lists: ${shown}${more}; restoring it would write part of a backup, or a mix of several (a file changed after distkv backup wrote it, with its crc written again): restore a file as distkv backup wrote it`,
  );
}

/** shardName is "shard 1 (shard-1)", or "shard 1" when the summary gives no name. */
export function shardName(l: { idx: number; name?: string }): string {
  return l.name === undefined ? `shard ${l.idx}` : `shard ${l.idx} (${l.name})`;
}
