/**
 * Measures: parsing a request head on the front door's main thread (src/http/http1-head.ts) for
 * the usual GET and PUT of a key as the load generator sends them, as undici sends them (header
 * names in lower case: the same fast path) and with names in other cases (the general path:
 * slice, lower-casing, token scan), and reading a PUT's query
 * strictly (src/http/request-parse.ts, strictQuery) against the lenient form parse.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { parseHead } from '../../../src/http/http1-head.js';
import { parseQuery, strictQuery } from '../../../src/http/request-parse.js';
import { printHeader } from '../header.js';

printHeader('http/request-head');
const GET = 'GET /kv/key:12345 HTTP/1.1\r\nHost: 127.0.0.1:8080';
const PUT = 'PUT /kv/key:12345?w=1&timeout_ms=500 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 100';
const PUT_PLAIN = 'PUT /kv/key:12345 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 100';
const PUT_LOWER = 'PUT /kv/key:12345 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-length: 100';
const PUT_UPPER = 'PUT /kv/key:12345 HTTP/1.1\r\nHOST: 127.0.0.1:8080\r\nCONTENT-LENGTH: 100';
const PUT_PARAMS = ['w', 'timeout_ms', 'ttl_ms'];

bench('parseHead: GET /kv/{key} with Host', () => {
  do_not_optimize(parseHead(GET));
});
bench('parseHead: PUT /kv/{key}?w=1&timeout_ms=500 with Host and Content-Length', () => {
  do_not_optimize(parseHead(PUT));
});
bench('parseHead: PUT /kv/{key}, Host and Content-Length', () => {
  do_not_optimize(parseHead(PUT_PLAIN));
});
bench('parseHead: PUT /kv/{key}, host and content-length (lower case)', () => {
  do_not_optimize(parseHead(PUT_LOWER));
});
bench('parseHead: PUT /kv/{key}, HOST and CONTENT-LENGTH (general path)', () => {
  do_not_optimize(parseHead(PUT_UPPER));
});
bench('parseQuery (lenient): w=1&timeout_ms=500', () => {
  do_not_optimize(parseQuery('w=1&timeout_ms=500'));
});
bench('strictQuery: w=1&timeout_ms=500', () => {
  do_not_optimize(strictQuery('w=1&timeout_ms=500', PUT_PARAMS));
});

await run();
