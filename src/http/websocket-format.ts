/**
 * The WebSocket protocol (RFC 6455) as the watch endpoint speaks it, server side (docs/watch.md,
 * "WebSocket"): the opening handshake's accept key, a parser of client frames and encoders of
 * server frames. No extensions (a frame with an RSV bit set is refused), no subprotocol.
 *
 *   frame := b0 b1 [len16 | len64] [mask:4] payload
 *   b0    := FIN:1 RSV:3 opcode:4        opcode: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong
 *   b1    := MASK:1 len7:7               len7 126 = u16 length follows, 127 = u64 (top bit 0)
 *
 * What is refused, with the close code the peer gets (WsProtocolError): an unmasked client frame,
 * an RSV bit, an unknown opcode, a fragmented or over-125-byte control frame, a continuation with
 * no message to continue or a new message inside a fragmented one (1002); a message over
 * `maxMessage` bytes (1009); text or a close reason that is not UTF-8, a close payload of 1 byte or
 * with a code no endpoint may send (1007 / 1002).
 */
import { createHash } from 'node:crypto';

/** WS_GUID is the fixed string of the accept-key computation (RFC 6455 section 1.3). */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP_CONTINUATION = 0;
export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

/** Close codes used here. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_BAD_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;

/** acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** isValidKey checks a Sec-WebSocket-Key: base64 of 16 bytes. */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** WsProtocolError is a refused frame: the close code to send and why. */
export class WsProtocolError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** WsMessage is what the parser yields: a whole message or a control frame. */
export type WsMessage =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; data: Buffer }
  | { kind: 'ping'; data: Buffer }
  | { kind: 'pong'; data: Buffer }
  | { kind: 'close'; code: number; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(b: Buffer, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new WsProtocolError(CLOSE_BAD_DATA, `${what} is not valid UTF-8`);
  }
}

/** closeCodeAllowed: the codes a peer may send in a close frame (RFC 6455 section 7.4). */
function closeCodeAllowed(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** WsParser turns client bytes into messages; it throws WsProtocolError on a refused frame. */
export class WsParser {
  private input: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private fragmentOp = -1;
  private readonly maxMessage: number;

  constructor(maxMessage: number) {
    this.maxMessage = maxMessage;
  }

  /** push adds bytes and returns the messages now complete. */
  push(chunk: Buffer): WsMessage[] {
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    const out: WsMessage[] = [];
    for (;;) {
      const m = this.next();
      if (m === undefined) break;
      if (m !== null) out.push(m);
    }
    return out;
  }

  /** next parses one frame: a message, null (a fragment kept), or undefined (need more bytes). */
  private next(): WsMessage | null | undefined {
    const b = this.input;
    if (b.length < 2) return undefined;
    const fin = (b[0]! & 0x80) !== 0;
    if ((b[0]! & 0x70) !== 0) throw new WsProtocolError(CLOSE_PROTOCOL, 'RSV bits set without an extension');
    const op = b[0]! & 0x0f;
    if ((b[1]! & 0x80) === 0) throw new WsProtocolError(CLOSE_PROTOCOL, 'client frame is not masked');
    let len = b[1]! & 0x7f;
    let at = 2;
    const control = op >= 8;
    if (
      op !== OP_CONTINUATION &&
      op !== OP_TEXT &&
      op !== OP_BINARY &&
      op !== OP_CLOSE &&
      op !== OP_PING &&
      op !== OP_PONG
    )
      throw new WsProtocolError(CLOSE_PROTOCOL, `unknown opcode ${op}`);
    if (control && (!fin || len > 125))
      throw new WsProtocolError(CLOSE_PROTOCOL, 'control frame fragmented or over 125 bytes');
    if (len === 126) {
      if (b.length < 4) return undefined;
      len = b.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return undefined;
      const hi = b.readUInt32BE(2);
      if (hi !== 0) throw new WsProtocolError(CLOSE_TOO_BIG, 'frame over 4 GiB');
      len = b.readUInt32BE(6);
      at = 10;
    }
    if (!control && this.fragmentBytes + len > this.maxMessage)
      throw new WsProtocolError(CLOSE_TOO_BIG, `message over ${this.maxMessage} bytes`);
    if (b.length < at + 4 + len) return undefined;
    const mask = b.subarray(at, at + 4);
    const payload = Buffer.from(b.subarray(at + 4, at + 4 + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    this.input = b.subarray(at + 4 + len);
    if (control) return controlMessage(op, payload);
    if (op === OP_CONTINUATION) {
      if (this.fragmentOp < 0)
        throw new WsProtocolError(CLOSE_PROTOCOL, 'continuation frame with no message to continue');
    } else if (this.fragmentOp >= 0)
      throw new WsProtocolError(CLOSE_PROTOCOL, 'new message inside a fragmented one');
    else this.fragmentOp = op;
    this.fragments.push(payload);
    this.fragmentBytes += len;
    if (!fin) return null;
    const data = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
    const kind = this.fragmentOp;
    this.fragments = [];
    this.fragmentBytes = 0;
    this.fragmentOp = -1;
    return kind === OP_TEXT
      ? { kind: 'text', text: decodeUtf8(data, 'text message') }
      : { kind: 'binary', data };
  }
}

function controlMessage(op: number, payload: Buffer): WsMessage {
  if (op === OP_PING) return { kind: 'ping', data: payload };
  if (op === OP_PONG) return { kind: 'pong', data: payload };
  if (payload.length === 0) return { kind: 'close', code: 1005, reason: '' };
  if (payload.length === 1) throw new WsProtocolError(CLOSE_PROTOCOL, 'close payload of 1 byte');
  const code = payload.readUInt16BE(0);
  if (!closeCodeAllowed(code))
    throw new WsProtocolError(CLOSE_PROTOCOL, `close code ${code} may not be sent`);
  return { kind: 'close', code, reason: decodeUtf8(payload.subarray(2), 'close reason') };
}

/** encodeFrame writes one unmasked server frame (FIN set). */
export function encodeFrame(op: number, payload: Buffer): Buffer {
  const len = payload.length;
  const headLen = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
  const out = Buffer.allocUnsafe(headLen + len);
  out[0] = 0x80 | op;
  if (len < 126) out[1] = len;
  else if (len <= 0xffff) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(len / 0x100000000), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  payload.copy(out, headLen);
  return out;
}

/** encodeClose writes a close frame with a code and a reason (cut to fit 125 bytes). */
export function encodeClose(code: number, reason: string): Buffer {
  const r = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.allocUnsafe(2 + r.length);
  payload.writeUInt16BE(code, 0);
  r.copy(payload, 2);
  return encodeFrame(OP_CLOSE, payload);
}
