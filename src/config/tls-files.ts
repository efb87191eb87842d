/**
 * TLS files: the PEM files `[server]` names (tls_cert, tls_key, tls_ca), read and checked once when a
 * node starts, so a path that is missing, a directory, or not PEM is refused naming the setting and
 * the file. Before, a bad tls_cert or tls_key surfaced at listen as the bare OpenSSL or file-system
 * message ("error:0480006C:PEM routines::no start line", "ENOENT ... open '/x'").
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../errors.js';
import { reasonOf } from '../util/fs-reason.js';
import type { ServerConfig } from './schema.js';

/** TlsFiles are the PEM contents of the `[server]` TLS settings (undefined: not set). */
export interface TlsFiles {
  cert: Buffer | undefined;
  key: Buffer | undefined;
  ca: Buffer | undefined;
}

/**
 * readTlsFiles reads `server`'s tls_cert, tls_key and tls_ca and checks that the certificate and
 * key load together and that the CA file holds a certificate; it throws ConfigError naming
 * `source` (the config file) and listing every problem.
 */
export function readTlsFiles(
  server: Pick<ServerConfig, 'tls_cert' | 'tls_key' | 'tls_ca'>,
  source: string,
): TlsFiles {
  const problems: string[] = [];
  const read = (setting: string, path: string): Buffer | undefined => {
    if (path === '') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push(`server.${setting}: cannot read ${path}: ${reasonOf(err)}`);
      return undefined;
    }
  };
  const cert = read('tls_cert', server.tls_cert);
  const key = read('tls_key', server.tls_key);
  const ca = read('tls_ca', server.tls_ca);
  if (cert !== undefined && key !== undefined)
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      problems.push(
        `server.tls_cert, server.tls_key: ${server.tls_cert} and ${server.tls_key} are not a PEM certificate and its private key (${(err as Error).message})`,
      );
    }
  if (ca !== undefined)
    try {
      new X509Certificate(ca); // createSecureContext takes any text as a CA list
    } catch (err) {
      problems.push(`server.tls_ca: ${server.tls_ca} is not a PEM certificate (${(err as Error).message})`);
    }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { cert, key, ca };
}
