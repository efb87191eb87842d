/**
 * RESP metrics for /metrics (docs/resp.md, "Metrics"): what each RESP listener served, as Redis's
 * INFO commandstats and errorstats count it.
 *
 *   distkv_resp_commands_total{node,command}   counter; commands run, by name (`unknown`: a name
 *                                              distkv does not know); arity and AUTH refusals included
 *   distkv_resp_errors_total{node,code}        counter; error replies, by their code (`ERR`, `MOVED`,
 *                                              `CROSSSLOT`, `TRYAGAIN`, `NOAUTH`, ...)
 *   distkv_resp_connections_total{node}        counter; connections accepted
 *   distkv_resp_connections_open{node}         gauge
 *
 * `node` is the listener's node (config address), as for distkv_http_requests_total. The hot path
 * pays one array increment per command (`RespStats.calls`, indexed by CommandSpec.index) and a map
 * increment per error reply; prom-client reads them only when /metrics is scraped. Owned by the
 * main thread.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RespStats } from './resp-context.js';

/** MAX_CODES bounds the distinct error codes kept; later ones are counted as OTHER. */
const MAX_CODES = 32;
/** CODE is what an error code looks like (Redis's are upper-case words: ERR, MOVED, WRONGPASS). */
const CODE = /^[A-Z]{1,24}$/;

/** ErrorCounts counts a listener's error replies by code (Redis's errorstats). */
export class ErrorCounts {
  readonly byCode = new Map<string, number>();
  total = 0;

  /** add counts an error reply whose text is `text` ("CODE message"). */
  add(text: string): void {
    const space = text.indexOf(' ');
    this.count(space < 0 ? text : text.slice(0, space));
  }

  /** addBytes counts an error reply of raw bytes ("CODE message"). */
  addBytes(text: Uint8Array): void {
    const space = text.indexOf(0x20);
    this.count(
      Buffer.from(text.buffer, text.byteOffset, space < 0 ? text.length : Math.min(space, 25)).toString(
        'latin1',
      ),
    );
  }

  private count(word: string): void {
    this.total++;
    const code = CODE.test(word) && (this.byCode.has(word) || this.byCode.size < MAX_CODES) ? word : 'OTHER';
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
  }
}

/** RespMetricsSource is one RESP listener as the metrics read it. */
export interface RespMetricsSource {
  /** address is the node the listener speaks for. */
  readonly address: string;
  readonly stats: RespStats;
  /** open is the number of its connections open now. */
  readonly open: number;
}

/**
 * registerRespMetrics exposes the RESP listeners' counts (see the module comment); `listeners` is
 * read at each scrape, so listeners made after registration are included. `commandNames[i]` names
 * `RespStats.calls[i]`.
 */
export function registerRespMetrics(
  registry: Registry,
  listeners: () => readonly RespMetricsSource[],
  commandNames: readonly string[],
): void {
  new Counter({
    name: 'distkv_resp_commands_total',
    help: 'RESP commands run, by command name (unknown: not a distkv command)',
    labelNames: ['node', 'command'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of listeners()) {
        const calls = l.stats.calls;
        for (let i = 0; i < calls.length; i++)
          if (calls[i]! > 0) this.inc({ node: l.address, command: commandNames[i] ?? 'unknown' }, calls[i]);
      }
    },
  });
  new Counter({
    name: 'distkv_resp_errors_total',
    help: 'RESP error replies, by error code (ERR, MOVED, CROSSSLOT, TRYAGAIN, ...)',
    labelNames: ['node', 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of listeners())
        for (const [code, n] of l.stats.errors.byCode) this.inc({ node: l.address, code }, n);
    },
  });
  new Counter({
    name: 'distkv_resp_connections_total',
    help: 'RESP connections accepted',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of listeners()) this.inc({ node: l.address }, l.stats.connections);
    },
  });
  new Gauge({
    name: 'distkv_resp_connections_open',
    help: 'RESP connections open',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of listeners()) this.set({ node: l.address }, l.open);
    },
  });
}
