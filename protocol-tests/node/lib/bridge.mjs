// Starts the `siobridge` binary (README.md, "The bridge contract"): the
// executable named by SIOBRIDGE_BIN, or reference/bridge-server.mjs when that
// variable is unset. Relative paths are resolved from the current directory.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './server.mjs';

const REFERENCE = fileURLToPath(new URL('../reference/bridge-server.mjs', import.meta.url));
// The first stdout line: `listening on <ip>:<port>`, IPv6 in brackets.
const LISTENING_LINE = /^listening on (\S+):(\d+)$/;
// Upper bound for a process that is expected to exit by itself.
const EXIT_TIMEOUT_MS = 10_000;

function executable() {
  return path.resolve(process.env.SIOBRIDGE_BIN || REFERENCE);
}

/** The command line that runs the bridge with `args`. */
function commandLine(args) {
  const file = executable();
  return /\.m?js$/.test(file) ? [process.execPath, [file, ...args]] : [file, args];
}

/**
 * Starts the bridge with `--listen <listen>` followed by `args` and resolves
 * once it printed its listening line.
 *
 * @param {{ args?: string[], env?: Record<string, string>, listen?: string|null }} options
 *   `listen: null` passes no `--listen` (to test SIOBRIDGE_LISTEN);
 *   `env` extends the test's environment.
 * @returns the handle of `launch` (lib/server.mjs): `{ url, host, port, stderr, stop(signal) }`.
 */
export function startBridge({ args = [], env = {}, listen = '127.0.0.1:0' } = {}) {
  return launch({
    executable: executable(),
    args: listen === null ? args : ['--listen', listen, ...args],
    env,
    listeningLine: LISTENING_LINE,
  });
}

/**
 * Runs the bridge with exactly `args`, for command lines that must make it
 * exit by itself, and resolves with `{ code, signal, stdout, stderr }`. A
 * bridge still running after EXIT_TIMEOUT_MS is killed and reported as such.
 */
export function runBridge({ args = [], env = {} } = {}) {
  const [command, commandArgs] = commandLine(args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`siobridge ${args.join(' ')} was still running after ${EXIT_TIMEOUT_MS} ms (stdout: ${JSON.stringify(stdout.slice(0, 200))})`));
    }, EXIT_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
