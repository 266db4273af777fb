// `siobridge conform` against the official `engine.io` and `socket.io`
// packages serving the conformance contract (reference/conformance-server.mjs):
// every check must pass, which shows the runner checks the specs as the
// reference implements them, not siobridge's own reading of them. (The Rust
// test target `protocol` runs it against siobridge and against a broken
// server.)
//
// SIOBRIDGE_BIN names the siobridge binary (scripts/test builds it); by
// default the debug build of this checkout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startServer } from '../lib/server.mjs';

const DEFAULT_BIN = fileURLToPath(new URL('../../../target/debug/siobridge', import.meta.url));
const SIOBRIDGE_BIN = path.resolve(process.env.SIOBRIDGE_BIN || DEFAULT_BIN);
// The runner bounds each of its checks; this only keeps a broken build from
// hanging the suite.
const RUN_TIMEOUT_MS = 60_000;

/** Runs the binary to completion; resolves with its exit code and stdout. */
function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(SIOBRIDGE_BIN, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', (error) => reject(new Error(`cannot run ${SIOBRIDGE_BIN}: ${error.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

let server;
let eio3Server;
let msgpackServer;
before(async () => {
  [server, eio3Server, msgpackServer] = await Promise.all([
    startServer({ app: 'conformance-reference' }),
    // The same contract with allowEIO3, for `conform --eio3`.
    startServer({ app: 'conformance-reference', env: { SIOBRIDGE_ALLOW_EIO3: '1' } }),
    // With socket.io-msgpack-parser, for `conform --msgpack`.
    startServer({ app: 'conformance-reference', env: { SIOBRIDGE_PARSER: 'msgpack' } }),
  ]);
});
after(() => Promise.all([server?.stop(), eio3Server?.stop(), msgpackServer?.stop()]));

test('siobridge conform passes every check against the reference servers', async () => {
  const { code, stdout } = await run(['conform', server.url]);
  const lines = stdout.trimEnd().split('\n');
  assert.deepEqual(lines.filter((line) => line.startsWith('FAIL')), [], stdout);
  assert.match(lines.at(-1), /^(\d+) checks: \1 passed, 0 failed$/, stdout);
  assert.ok(lines.filter((line) => line.startsWith('ok   ')).length >= 30, stdout);
  assert.equal(code, 0);
});

test('siobridge conform --eio3 passes every check against the reference servers with allowEIO3', async () => {
  const { code, stdout } = await run(['conform', '--eio3', eio3Server.url]);
  const lines = stdout.trimEnd().split('\n');
  assert.deepEqual(lines.filter((line) => line.startsWith('FAIL')), [], stdout);
  assert.match(lines.at(-1), /^(\d+) checks: \1 passed, 0 failed$/, stdout);
  assert.ok(lines.filter((line) => line.startsWith('ok   eio3: ')).length >= 15, stdout);
  // `EIO=3` is served there, so its refusal is not checked.
  assert.ok(!stdout.includes('protocol version 3'), stdout);
  assert.equal(code, 0);
});

test('siobridge conform --eio3 fails against servers without allowEIO3', async () => {
  const { code, stdout } = await run(['conform', '--eio3', server.url]);
  assert.match(stdout, /^FAIL eio3: handshake over polling/m, stdout);
  assert.equal(code, 1);
});

test('siobridge conform --msgpack passes every check against the reference servers with the msgpack parser', async () => {
  const { code, stdout } = await run(['conform', '--msgpack', msgpackServer.url]);
  const lines = stdout.trimEnd().split('\n');
  assert.deepEqual(lines.filter((line) => line.startsWith('FAIL')), [], stdout);
  assert.match(lines.at(-1), /^(\d+) checks: \1 passed, 0 failed$/, stdout);
  assert.ok(lines.filter((line) => line.startsWith('ok   msgpack: ')).length >= 10, stdout);
  // The JSON parser's Socket.IO checks do not run against a msgpack server.
  assert.ok(!stdout.includes('socket.io: '), stdout);
  assert.equal(code, 0);
});

test('siobridge conform --msgpack fails against the reference servers with the JSON parser', async () => {
  const { code, stdout } = await run(['conform', '--msgpack', server.url]);
  assert.match(stdout, /^FAIL msgpack: CONNECT to \/ is one binary message/m, stdout);
  assert.equal(code, 1);
});
