// Result lines for the conformance matrix (protocol-tests/MATRIX.md).
//
// When SIOBRIDGE_MATRIX_DIR is set, a suite appends one JSON line per test to
// `$SIOBRIDGE_MATRIX_DIR/<suite>.jsonl`:
//   {"client","transport","feature","status":"pass"|"fail"|"n/a","reason","test"}
// protocol-tests/matrix.mjs folds the lines of every suite into the matrix: a
// cell passes when every test recorded for it passed. Unset, nothing is
// written.
import { appendFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Records one test's outcome for the cell (client, transport, feature) in
 * `<suite>.jsonl`. A no-op unless SIOBRIDGE_MATRIX_DIR is set.
 *
 * @param {string} suite file name (without `.jsonl`) the line goes to
 * @param {{ client: string, transport: string, feature: string,
 *   status: 'pass'|'fail'|'n/a', reason?: string, test?: string }} line
 */
export function recordResult(suite, { client, transport, feature, status, reason = '', test = '' }) {
  const dir = process.env.SIOBRIDGE_MATRIX_DIR;
  if (!dir) return;
  const line = JSON.stringify({ client, transport, feature, status, reason, test });
  // Synchronous and one write per line: lines from one process never
  // interleave, and each is complete even if the process dies right after.
  appendFileSync(path.join(dir, `${suite}.jsonl`), `${line}\n`);
}

/**
 * Runs `run()` and records its outcome: `pass`, or `fail` with the test's
 * name as the reason (the error itself goes to the test report). Gives up
 * with a failure after `timeoutMs`, so that a hung test is recorded too
 * (node:test's own timeout would abandon it without a word).
 */
export async function recorded(suite, cell, run, { timeoutMs }) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([run(), timeout]);
    recordResult(suite, { ...cell, status: 'pass' });
  } catch (error) {
    recordResult(suite, { ...cell, status: 'fail', reason: `failed: ${cell.test}` });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
