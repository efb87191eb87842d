/**
 * The listener of an HTTPS address (`server.tls_cert` / `tls_key`): a TCP server that looks at a
 * connection's first bytes before the TLS server takes it. A TLS client's first record is a
 * handshake (content type 0x16); anything else is a client speaking plain HTTP to the HTTPS port
 * (`curl http://` for `https://`, a replica configured without TLS), answered with
 * `plainAnswer` (a 400 saying so) and closed. The TLS server alone closed such a connection
 * without a byte, and the user saw "empty reply from server" with nothing to say why.
 *
 * A TLS client's first bytes are put back (`unshift`) and its socket handed to the TLS server as
 * its own `connection`, which reads them first. A connection that sends nothing within
 * `firstByteMs` is closed, as the plain listener's idle sweep closes one that starts no request.
 */
import { createServer as createNetServer, type Server } from 'node:net';
import type { Server as TlsServer } from 'node:tls';

/** TLS_HANDSHAKE is the content type of a TLS record carrying a handshake (RFC 8446 section 5.1), a ClientHello's first byte. */
const TLS_HANDSHAKE = 0x16;

/** tlsOrPlainServer listens for `tls` (see above); `plainAnswer` is written to a plain-text client before it is closed. */
export function tlsOrPlainServer(tls: TlsServer, plainAnswer: () => string, firstByteMs: number): Server {
  const quiet = (): void => {};
  return createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const gone = (): void => {
      socket.destroy();
    };
    const sniff = (): void => {
      const data = socket.read() as Buffer | null;
      if (data === null) return;
      socket.off('readable', sniff);
      socket.off('end', gone);
      socket.off('error', quiet);
      socket.setTimeout(0);
      socket.off('timeout', gone);
      if (data[0] === TLS_HANDSHAKE) {
        socket.unshift(data);
        tls.emit('connection', socket);
        return;
      }
      // What the client sends on is read and dropped (unread, a close would reset the connection
      // and could lose the answer before the client reads it); it closes once the client does.
      socket.on('error', quiet);
      socket.on('end', gone);
      socket.resume();
      socket.end(plainAnswer());
      // A client that neither reads nor closes does not keep the socket.
      socket.setTimeout(firstByteMs, gone);
    };
    socket.on('error', quiet);
    socket.on('end', gone);
    socket.setTimeout(firstByteMs, gone);
    socket.on('readable', sniff);
  });
}
