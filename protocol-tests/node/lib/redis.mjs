// A real Redis for the cluster suites: Debian's `redis-server` (installed by
// scripts/install-test-tools), started in the foreground on a free port of
// 127.0.0.1, without persistence; `stop()` ends it, `restart()` kills it and
// starts it again on the same port (the fault tests).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';

const REDIS_SERVER = process.env.SIOBRIDGE_REDIS_SERVER || 'redis-server';
const START_TIMEOUT_MS = 10_000;

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function spawnRedis(port) {
  const child = spawn(REDIS_SERVER, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise((resolve) => child.once('exit', () => {
    process.off('exit', killOnExit);
    resolve();
  }));
  let output = '';
  child.stdout.on('data', (chunk) => { output = (output + chunk).slice(-4000); });
  child.stderr.on('data', (chunk) => { output = (output + chunk).slice(-4000); });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), START_TIMEOUT_MS);
    const check = () => {
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${REDIS_SERVER} (scripts/install-test-tools installs it): ${e.message}`));
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited:\n${output}`));
    });
  });
  return { child, exited, ready };
}

/** Starts a Redis server; resolves once it accepts connections. */
export async function startRedis() {
  const port = await freePort();
  let current = spawnRedis(port);
  await current.ready;
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    current.child.kill('SIGKILL');
    await current.exited;
  };
  return {
    url,
    port,
    stop,
    /** Kills the server (as a crash would) and starts a new one on the same port. */
    async restart({ downMs = 0 } = {}) {
      await stop();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      current = spawnRedis(port);
      await current.ready;
    },
    /** A client of this server (closed by the caller). */
    client: () => {
      const c = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null });
      c.on('error', () => {});
      return c;
    },
  };
}

/**
 * Resolves once `count` servers are subscribed to the request channel of
 * namespace `nsp` (what the adapter's `serverCount()` counts), polling Redis;
 * rejects after `timeoutMs`.
 */
export async function waitForServers(redis, count, { nsp = '/', prefix = 'socket.io', timeoutMs = 10_000 } = {}) {
  const client = redis.client();
  const channel = `${prefix}-request#${nsp}#`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const [, n] = await client.pubsub('NUMSUB', channel);
      if (Number(n) >= count) return;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${count} servers subscribed to ${channel}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    client.disconnect();
  }
}
