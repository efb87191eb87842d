/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws,
 * naming the line, on anything Prometheus would reject or that breaks the format's rules:
 *
 *   exposition := { line "\n" }
 *   line       := "" | "# HELP " name " " text | "# TYPE " name " " type | "# " comment | sample
 *   sample     := name [ "{" label { "," label } [","] "}" ] " " value [ " " timestamp ]
 *   label      := labelname "=" '"' escaped '"'          escapes: \\  \"  \n
 *   value      := float | "NaN" | "+Inf" | "-Inf"         (case-insensitive, as Go's ParseFloat)
 *
 * Rules checked: names and label names are valid; HELP and TYPE appear at most once per family and
 * TYPE before the family's first sample; a family's lines are contiguous (never interleaved with
 * another family's); sample names belong to their family by type (`_bucket`/`_sum`/`_count` for
 * histograms, `le` on every bucket; `_sum`/`_count`/`quantile` for summaries); no series (name and
 * label set) appears twice; no label name repeats within a sample.
 */

/** PromType is a family's TYPE. */
export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** PromSample is one sample line. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** PromFamily is one metric family: its HELP, TYPE and samples in order. */
export interface PromFamily {
  name: string;
  help: string | undefined;
  type: PromType | undefined;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/;

/** parseValue parses a sample value as Prometheus does. */
export function parseValue(text: string): number {
  const t = text.toLowerCase();
  if (t === 'nan') return NaN;
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (!FLOAT.test(text)) throw new Error(`"${text}" is not a number`);
  return Number(text);
}

/** familyOf returns the family name a sample name belongs to, given the families declared so far. */
function familyOf(sample: string, families: Map<string, PromFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const base = sample.slice(0, -suffix.length);
    const t = families.get(base)?.type;
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
  }
  return sample;
}

function parseLabels(text: string, at: () => string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after "{"
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${at()}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${at()}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${at()}: label "${name}" repeated`);
    if (text[eq + 1] !== '"') throw new Error(`${at()}: label "${name}" value is not quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`${at()}: unterminated value of label "${name}"`);
      if (c === '"') break;
      if (c === '\\') {
        const e = text[j + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${at()}: bad escape "\\${e ?? ''}" in label "${name}"`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${at()}: expected "," or "}" after label "${name}"`);
  }
}

/** parseExposition parses a whole /metrics body; families are returned in order of appearance. */
export function parseExposition(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seriesSeen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('the exposition does not end with a newline');
  lines.pop();
  const enter = (name: string, at: () => string): PromFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`${at()}: family ${name} continues after another family`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let f = families.get(name);
    if (f === undefined) {
      f = { name, help: undefined, type: undefined, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  lines.forEach((line, n) => {
    const at = (): string => `line ${n + 1} "${line}"`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) throw new Error(`${at()}: bad metric name`);
      const f = enter(name, at);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${at()}: second HELP for ${name}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`${at()}: second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`${at()}: TYPE after samples of ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${at()}: unknown type "${rest}"`);
        f.type = rest as PromType;
      }
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${at()}: no value`);
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`${at()}: bad metric name "${name}"`);
    let rest = line.slice(nameEnd);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, at));
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3 || parts[1] === '')
      throw new Error(`${at()}: expected " <value> [<timestamp>]" after the name and labels`);
    const value = parseValue(parts[1]!);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new Error(`${at()}: bad timestamp`);
    const f = enter(familyOf(name, families), at);
    if (f.type === 'histogram') {
      if (name === `${f.name}_bucket` && !('le' in labels)) throw new Error(`${at()}: bucket without le`);
      if (name === f.name) throw new Error(`${at()}: histogram sample without _bucket/_sum/_count`);
    }
    if (f.type === 'summary' && name === f.name && !('quantile' in labels))
      throw new Error(`${at()}: summary sample without quantile`);
    const series = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seriesSeen.has(series)) throw new Error(`${at()}: series ${series} repeated`);
    seriesSeen.add(series);
    f.samples.push({ name, labels, value });
  });
  return families;
}
