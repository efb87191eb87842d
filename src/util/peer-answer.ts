/**
 * Peer answers: what a node, a replica or a CLI command reads of another node's HTTP answer is
 * bounded in bytes and in time, as that node may be broken or hostile (docs/correctness.md, "What
 * a replica takes from its leader"). An unbounded `body.json()` / `body.text()` let a peer send
 * gigabytes within the exchange's timeout and the reader gathered them until it ran out of memory.
 * Shared by the replica's HttpSource (src/replication/http-source.ts), the peer check
 * (src/server/peer-check.ts) and the CLI's calls to nodes (`readFetchText`: map fetch, failover,
 * backup's refusals).
 */
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';

/**
 * CLUSTER_DOC_BYTES bounds a peer's `/cluster` document (its map, shards and replica positions:
 * a few KiB to a few hundred on the largest clusters); more is not a node's answer.
 */
export const CLUSTER_DOC_BYTES = 16 * 1024 * 1024;
/** ERROR_BODY_BYTES bounds what is read of a refusal's body (a JSON error is a few hundred bytes). */
export const ERROR_BODY_BYTES = 64 * 1024;

/** PeerAnswer is an answer's head and body: undici's `request` answer, or a fetch's through `Readable.fromWeb`. */
export interface PeerAnswer {
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * letGo destroys an answer's body that is not read to its end. undici's body then emits an error
 * (RequestAbortedError) even when destroyed without one: with no listener, an uncaught exception.
 */
export function letGo(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * readBody gathers an answer's body, at most `maxBytes` (a larger `Content-Length` is refused
 * unread) within `totalMs`, or throws naming `what` and the bound passed; the body is destroyed then,
 * so the connection is not reused. `cut` keeps the first `maxBytes` of a longer body instead (a
 * refusal's, read for its error code and shown in part).
 */
export async function readBody(
  r: PeerAnswer,
  maxBytes: number,
  totalMs: number,
  what: string,
  cut = false,
): Promise<Buffer> {
  const claimed = Number(r.headers['content-length'] ?? NaN);
  if (!cut && claimed > maxBytes) {
    letGo(r.body);
    throw new Error(
      `${what}: Content-Length ${claimed} is more than the ${maxBytes} bytes it can be; refused unread`,
    );
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  // Destroyed with its error, the body ends the loop below by throwing it.
  const timer = setTimeout(() => {
    r.body.destroy(
      new Error(`${what}: the body did not end within ${totalMs} ms (${bytes} bytes came); refused`),
    );
  }, totalMs);
  try {
    for await (const chunk of r.body) {
      const b = chunk as Buffer;
      if (bytes + b.length > maxBytes) {
        letGo(r.body);
        if (cut) {
          chunks.push(b.subarray(0, maxBytes - bytes));
          bytes = maxBytes;
          break;
        }
        throw new Error(`${what}: the body passed ${maxBytes} bytes, more than it can be; refused`);
      }
      chunks.push(b);
      bytes += b.length;
    }
  } finally {
    clearTimeout(timer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
}

/** FetchAnswer is what readFetchText needs of a `fetch` answer (undici's or the global one). */
export interface FetchAnswer {
  ok: boolean;
  headers: { get(name: string): string | null };
  body: ReadableStream | null;
}

/**
 * readFetchText reads a `fetch` answer's body as text: a document of at most CLUSTER_DOC_BYTES
 * when the answer is 2xx, else the first ERROR_BODY_BYTES of a refusal (readBody, `cut`), within
 * `totalMs`; it throws naming `what` past a bound.
 */
export async function readFetchText(res: FetchAnswer, totalMs: number, what: string): Promise<string> {
  const answer: PeerAnswer = {
    headers: { 'content-length': res.headers.get('content-length') ?? undefined },
    body: res.body === null ? Readable.from([]) : Readable.fromWeb(res.body),
  };
  const bytes = await readBody(answer, res.ok ? CLUSTER_DOC_BYTES : ERROR_BODY_BYTES, totalMs, what, !res.ok);
  return bytes.toString('utf8');
}
