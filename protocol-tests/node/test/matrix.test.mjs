// The conformance matrix's own machinery: result lines (lib/matrix.mjs) and
// their composition into MATRIX.md (../matrix.mjs), on a small layout and on
// throwaway directories.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { CLIENTS, composeCells, diffCells, layoutCells, parse, readResults, render } from '../../matrix.mjs';
import { recorded } from '../lib/matrix.mjs';

const COMPOSER = fileURLToPath(new URL('../../matrix.mjs', import.meta.url));
const FEATURES = [['hello', 'says hello'], ['bye', 'says bye']];
const LAYOUT = [
  { client: 'A', transports: ['polling', 'websocket'], notApplicable: {} },
  { client: 'B', transports: ['polling'], notApplicable: { bye: 'B never leaves' } },
];
const line = (client, transport, feature, status, reason = '') => ({ client, transport, feature, status, reason, source: 'test' });
const compose = (lines) => composeCells(lines, LAYOUT, FEATURES);
const statusOf = (cells, ...parts) => {
  const { status, reason } = cells.get(parts.join(' | '));
  return { status, reason };
};

function tempDir(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'siobridge-matrix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('composing cells', () => {
  test('a cell passes when all its tests passed, and fails naming the failed ones', () => {
    const { cells, problems } = compose([
      line('A', 'polling', 'hello', 'pass'),
      line('A', 'polling', 'hello', 'pass'),
      line('A', 'websocket', 'hello', 'pass'),
      line('A', 'websocket', 'hello', 'fail', 'failed: two'),
      line('A', 'websocket', 'hello', 'fail', 'failed: one'),
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(statusOf(cells, 'A', 'polling', 'hello'), { status: 'pass', reason: '' });
    assert.deepEqual(statusOf(cells, 'A', 'websocket', 'hello'), { status: 'fail', reason: 'failed: one; failed: two' });
  });

  test('a cell without results fails as not run; the layout and suites can say n/a', () => {
    const { cells } = compose([line('A', 'polling', 'bye', 'n/a', 'no goodbyes on polling')]);
    assert.deepEqual(statusOf(cells, 'A', 'websocket', 'bye'), { status: 'fail', reason: 'not run' });
    assert.deepEqual(statusOf(cells, 'A', 'polling', 'bye'), { status: 'n/a', reason: 'no goodbyes on polling' });
    assert.deepEqual(statusOf(cells, 'B', 'polling', 'bye'), { status: 'n/a', reason: 'B never leaves' });
    assert.equal(cells.size, layoutCells(LAYOUT, FEATURES).length);
  });

  test('results that do not fit the layout are reported', () => {
    const { problems } = compose([
      line('C', 'polling', 'hello', 'pass'),
      line('B', 'websocket', 'hello', 'pass'),
      line('B', 'polling', 'bye', 'pass'),
      line('A', 'polling', 'hello', 'ok'),
    ]);
    assert.equal(problems.length, 4, problems.join('\n'));
  });

  test('the real layout has each client once and the cells the issue lists', () => {
    assert.equal(new Set(CLIENTS.map(({ client }) => client)).size, CLIENTS.length);
    const chromium = CLIENTS.find(({ client }) => client.includes('Chromium'));
    assert.deepEqual(chromium.transports, ['polling', 'websocket', 'upgrade']);
    assert.deepEqual(chromium.notApplicable, {});
  });
});

describe('MATRIX.md', () => {
  test('parses back to the cells it was rendered from', () => {
    const { cells } = compose([line('A', 'polling', 'hello', 'pass'), line('A', 'websocket', 'hello', 'fail', 'failed: x')]);
    const parsed = parse(render(cells, FEATURES));
    assert.equal(parsed.size, cells.size);
    for (const [key, cell] of cells) assert.deepEqual(parsed.get(key), { status: cell.status, reason: cell.reason }, key);
  });

  test('a diff names each changed cell with its old and new state', () => {
    const before = parse(render(compose([line('A', 'polling', 'hello', 'pass')]).cells, FEATURES));
    const after = parse(render(compose([line('A', 'polling', 'hello', 'fail', 'failed: x')]).cells, FEATURES));
    assert.deepEqual(diffCells(before, after), ['A | polling | hello: pass -> fail (failed: x)']);
    assert.deepEqual(diffCells(after, after), []);
  });

  test('result files are read line by line, and a broken line is an error', (t) => {
    const dir = tempDir(t);
    writeFileSync(path.join(dir, 'one.jsonl'), `${JSON.stringify({ client: 'A' })}\n\n${JSON.stringify({ client: 'B' })}\n`);
    writeFileSync(path.join(dir, 'ignored.txt'), 'not results');
    assert.deepEqual(readResults(dir).map(({ client, source }) => [client, source]), [['A', 'one.jsonl:1'], ['B', 'one.jsonl:3']]);
    writeFileSync(path.join(dir, 'two.jsonl'), '{"client":\n');
    assert.throws(() => readResults(dir), /two\.jsonl:1: not JSON/);
  });
});

describe('the composer command', () => {
  const run = (results, matrix) => spawnSync(process.execPath, [COMPOSER, results, matrix], { encoding: 'utf8' });

  test('passes when the matrix is unchanged, and fails writing the new one when a cell changed', (t) => {
    const results = tempDir(t);
    const matrix = path.join(tempDir(t), 'MATRIX.md');
    writeFileSync(path.join(results, 'none.jsonl'), '');
    // No committed matrix yet: everything changed.
    assert.equal(run(results, matrix).status, 1);
    const written = readFileSync(matrix, 'utf8');
    assert.match(written, /fail \[\d+\]/);
    const again = run(results, matrix);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /is unchanged/);

    const [cell] = layoutCells();
    writeFileSync(path.join(results, 'some.jsonl'), `${JSON.stringify({ ...cell, status: 'pass', reason: '' })}\n`);
    const changed = run(results, matrix);
    assert.equal(changed.status, 1);
    assert.match(changed.stderr, new RegExp(`${cell.feature}: fail \\(not run\\) -> pass`));
    assert.notEqual(readFileSync(matrix, 'utf8'), written);
  });
});

describe('recording results', () => {
  const cell = { client: 'A', transport: 'polling', feature: 'hello', test: 'says hello' };
  const withResultsDir = (t) => {
    const dir = tempDir(t);
    const previous = process.env.SIOBRIDGE_MATRIX_DIR;
    process.env.SIOBRIDGE_MATRIX_DIR = dir;
    t.after(() => {
      if (previous === undefined) delete process.env.SIOBRIDGE_MATRIX_DIR;
      else process.env.SIOBRIDGE_MATRIX_DIR = previous;
    });
    return () => readdirSync(dir).flatMap((name) => readFileSync(path.join(dir, name), 'utf8').trim().split('\n').map(JSON.parse));
  };

  test('a passing, a failing and a hung test each leave their line', async (t) => {
    const lines = withResultsDir(t);
    await recorded('suite', cell, async () => {}, { timeoutMs: 1000 });
    await assert.rejects(recorded('suite', cell, async () => { throw new Error('boom'); }, { timeoutMs: 1000 }), /boom/);
    await assert.rejects(recorded('suite', cell, () => new Promise(() => {}), { timeoutMs: 50 }), /did not finish within 50 ms/);
    const failed = { ...cell, status: 'fail', reason: 'failed: says hello' };
    assert.deepEqual(lines(), [{ ...cell, status: 'pass', reason: '' }, failed, failed]);
  });
});
