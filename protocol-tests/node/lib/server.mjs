// Starts a server under test, shared by every suite.
//
// These servers can be started, each the executable named by an environment
// variable, or a Node reference server when that variable is unset:
// - `conformance` (the default): SIOBRIDGE_SERVER, siobridge's conformance
//   example; reference/engine-echo-server.mjs;
// - `testapp`: SIOBRIDGE_TESTAPP, siobridge's Socket.IO test app;
//   reference/socketio-testapp.mjs;
// - `conformance-reference`: always reference/conformance-server.mjs, the
//   whole conformance contract on the official packages.
// Their common contract: with CONFORMANCE_PORT=0 the server listens on an
// ephemeral port of 127.0.0.1, prints `listening on 127.0.0.1:<port>` as its
// first stdout line, and exits cleanly on SIGTERM.
//
// `launch`, under `startServer`, starts any such executable; lib/bridge.mjs
// uses it for the siobridge binary.
//
// Set SIOBRIDGE_TEST_VERBOSE to see the server's stderr and stdout on the
// test's stderr.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const reference = (file) => fileURLToPath(new URL(`../reference/${file}`, import.meta.url));
const SERVERS = {
  conformance: { variable: 'SIOBRIDGE_SERVER', reference: reference('engine-echo-server.mjs') },
  testapp: { variable: 'SIOBRIDGE_TESTAPP', reference: reference('socketio-testapp.mjs') },
  // Always the reference: the oracle `siobridge conform` is checked against.
  'conformance-reference': { reference: reference('conformance-server.mjs') },
};
const LISTENING_LINE = /^listening on (127\.0\.0\.1):(\d+)$/;
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
// How much of the server's stderr to quote when it fails to start.
const STDERR_TAIL_CHARS = 4000;
// How many stderr lines `stderrLines()` keeps (the first ones).
const STDERR_MAX_LINES = 10_000;

/**
 * Spawns the server and waits for its `listening on` line.
 *
 * @param {{ app?: 'conformance' | 'testapp', env?: Record<string, string> }} options
 *   which server to start, and extra environment for it
 * @returns {Promise<{ url: string, port: number, pid: number, reference: boolean, stop: () => Promise<{ code: number|null, signal: string|null, forced: boolean }> }>}
 *   `pid` is the server process (for reading its memory), `reference` tells
 *   whether it is the Node reference server; `stop()` sends SIGTERM and
 *   resolves once the process exited (`forced` when it had to be killed after
 *   STOP_GRACE_MS); calling it again is harmless.
 */
export async function startServer({ app = 'conformance', env = {} } = {}) {
  const server = SERVERS[app];
  if (!server) throw new Error(`unknown server ${JSON.stringify(app)}: expected one of ${Object.keys(SERVERS).join(', ')}`);
  const executable = server.variable && process.env[server.variable];
  const { url, port, pid, stop } = await launch({
    executable: executable || server.reference,
    env: { ...env, CONFORMANCE_PORT: '0' },
    listeningLine: LISTENING_LINE,
  });
  return { url, port, pid, reference: !executable, stop: () => stop() };
}

/**
 * Spawns `executable` (a `.mjs`/`.js` file is run with Node) with `args`, its
 * environment extended by `env`, and waits for a first stdout line matching
 * `listeningLine`, whose groups are the host and the port.
 *
 * @returns {Promise<{ url: string, host: string, port: number, pid: number, stderr: () => string, stderrLines: () => string[], stop: () => Promise<{ code: number|null, signal: string|null, forced: boolean }> }>}
 *   `url` is `http://<host>:<port>`, with 127.0.0.1 for a wildcard host;
 *   `stderr()` is the last STDERR_TAIL_CHARS of stderr, `stderrLines()` its
 *   first STDERR_MAX_LINES complete lines;
 *   `pid` is the process;
 *   `stop(signal, { graceMs })` sends SIGTERM (or `signal`) and resolves once
 *   the process exited (`forced` when it had to be killed after `graceMs`,
 *   STOP_GRACE_MS by default); calling it again is harmless.
 */
export async function launch({ executable, args = [], env = {}, listeningLine = LISTENING_LINE }) {
  const resolved = path.resolve(executable);
  const [command, commandArgs] = /\.m?js$/.test(resolved)
    ? [process.execPath, [resolved, ...args]]
    : [resolved, args];
  const verbose = Boolean(process.env.SIOBRIDGE_TEST_VERBOSE);

  const child = spawn(command, commandArgs, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a server behind, even when a test file crashes.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      resolve({ code, signal });
    });
  });

  let stderrTail = '';
  child.stderr.on('data', (chunk) => {
    if (verbose) process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });

  const errorLines = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    if (errorLines.length < STDERR_MAX_LINES) errorLines.push(line);
  });

  const lines = readline.createInterface({ input: child.stdout });
  // Keep draining stdout so a chatty server never blocks on a full pipe.
  lines.on('line', (line) => {
    if (verbose) process.stderr.write(`[server stdout] ${line}\n`);
  });

  const name = `${command} ${commandArgs.join(' ')}`.trim();
  let host;
  let port;
  await new Promise((resolve, reject) => {
    let settled = false;
    const fail = (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      const stderr = stderrTail ? `\n--- server stderr ---\n${stderrTail}` : '';
      reject(new Error(`server ${name} ${reason}${stderr}`));
    };
    const timer = setTimeout(
      () => fail(`did not print its listening line within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    lines.once('line', (line) => {
      const match = listeningLine.exec(line);
      if (!match) return fail(`printed ${JSON.stringify(line)} instead of a line matching ${listeningLine}`);
      settled = true;
      clearTimeout(timer);
      [, host, port] = match;
      port = Number(port);
      resolve();
    });
    child.on('error', (error) => fail(`could not be started: ${error.message}`));
    exited.then(({ code, signal }) => fail(`exited (code ${code}, signal ${signal}) before listening`));
  });

  let stopping;
  const stop = (signal = 'SIGTERM', { graceMs = STOP_GRACE_MS } = {}) => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let forced = false;
      const killTimer = setTimeout(() => {
        forced = true;
        child.kill('SIGKILL');
      }, graceMs);
      const { code, signal: exitSignal } = await exited;
      clearTimeout(killTimer);
      return { code, signal: exitSignal, forced };
    })();
    return stopping;
  };

  const wildcard = host === '0.0.0.0' || host === '[::]';
  return { url: `http://${wildcard ? '127.0.0.1' : host}:${port}`, host, port, pid: child.pid, stderr: () => stderrTail, stderrLines: () => [...errorLines], stop };
}
