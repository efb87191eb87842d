// A node:test reporter run beside `spec` by scripts/test.mjs. A test file whose process ends
// without a failing test (a native crash, a kill, process.exit) shows in spec's summary only as
// "'test failed'": no signal, no exit code, and its last output far above the summary. This one
// prints, after everything else, each such file with how its process ended and the last lines it
// wrote, so the tail of a CI log says why.
const KEEP_LINES = 30;

// eslint-disable-next-line no-restricted-syntax -- node:test takes a reporter from its default export
export default async function* fileEndReporter(source) {
  /** @type {Map<string, string[]>} the last lines each file's process wrote (stdout and stderr). */
  const output = new Map();
  /** @type {Map<string, string>} the last test each file reported passing. */
  const lastPassed = new Map();
  const ended = [];
  for await (const event of source) {
    const { type, data } = event;
    if ((type === 'test:stderr' || type === 'test:stdout') && data.file !== undefined) {
      const lines = output.get(data.file) ?? [];
      lines.push(...String(data.message).replace(/\n$/, '').split('\n'));
      output.set(data.file, lines.slice(-KEEP_LINES));
    } else if (type === 'test:pass' && data.file !== undefined && data.details?.type !== 'suite') {
      lastPassed.set(data.file, data.name);
    } else if (type === 'test:fail' && data.nesting === 0) {
      const error = data.details?.error;
      if (error?.failureType === 'testCodeFailure' && (error.signal != null || error.exitCode != null))
        ended.push({ file: data.file ?? data.name, signal: error.signal, exitCode: error.exitCode });
    }
  }
  for (const { file, signal, exitCode } of ended) {
    const how = signal != null ? `killed by ${signal}` : `exit code ${exitCode}`;
    const last = lastPassed.get(file);
    yield `\n✖ ${file}: its process ended (${how}) with no failing test; ${
      last === undefined ? 'no test reported passing' : `the last test reported passing: "${last}"`
    }\n`;
    const lines = output.get(file) ?? [];
    yield lines.length === 0
      ? '  it wrote nothing\n'
      : `  its last lines:\n${lines.map((l) => `  | ${l}\n`).join('')}`;
  }
}
