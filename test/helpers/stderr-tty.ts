/**
 * Loaded with `node --import <this file>`: process.stderr says it is a terminal (isTTY) though it
 * is a pipe, so that a test reads the progress line as a terminal gets it (redrawn in place, with
 * no newline until it ends: src/cli/progress-line.ts).
 */
Object.defineProperty(process.stderr, 'isTTY', { value: true });
