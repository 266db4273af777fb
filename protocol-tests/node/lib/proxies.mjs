// Real reverse proxies in front of the server under test: Debian's nginx and
// HAProxy (scripts/install-test-tools installs them), each started in the
// foreground on a free port of 127.0.0.1 with a configuration written to a
// temporary directory: the configurations of docs/deploy.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from './hostile.mjs';

const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5000;

const BINARIES = { nginx: '/usr/sbin/nginx', haproxy: '/usr/sbin/haproxy' };

/** Why `proxy` cannot run here, or `null` when it can. */
export function unavailable(proxy) {
  const binary = BINARIES[proxy];
  if (existsSync(binary) && spawnSync(binary, ['-v'], { stdio: 'ignore' }).status === 0) return null;
  return `${binary} is not installed (scripts/install-test-tools installs Debian's ${proxy})`;
}

/** A port of 127.0.0.1 that was free a moment ago. */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts TCP connections on `port`. */
function accepting(port) {
  return eventually(() => new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  }), { timeoutMs: START_TIMEOUT_MS, what: `the proxy to accept on port ${port}` });
}

/** The nginx configuration of docs/deploy.md, for one siobridge at `upstream`. */
function nginxConfig(dir, port, upstream) {
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  upstream siobridge {
    ip_hash;
    server ${upstream};
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://siobridge;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 60s;
      proxy_send_timeout 60s;
      proxy_buffering off;
    }
  }
}
`;
}

/** The HAProxy configuration of docs/deploy.md, for one siobridge at `upstream`. */
function haproxyConfig(dir, port, upstream) {
  return `
global
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  option forwardfor
  option http-server-close
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend socketio
  bind 127.0.0.1:${port}
  default_backend siobridge
backend siobridge
  balance source
  hash-type consistent
  server node1 ${upstream} check
`;
}

/**
 * Starts `proxy` ('nginx' or 'haproxy') in front of the server at
 * `upstream` (`127.0.0.1:<port>`) and resolves once it accepts connections.
 *
 * @returns {Promise<{ url: string, port: number, stop: () => Promise<void>, log: () => string }>}
 */
export async function startProxy(proxy, upstream) {
  const dir = mkdtempSync(path.join(tmpdir(), `siobridge-${proxy}-`));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let command;
    let args;
    if (proxy === 'nginx') {
      writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port, upstream));
      command = BINARIES.nginx;
      args = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'];
    } else {
      writeFileSync(path.join(dir, 'haproxy.cfg'), haproxyConfig(dir, port, upstream));
      command = BINARIES.haproxy;
      args = ['-db', '-f', path.join(dir, 'haproxy.cfg')];
    }
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const exited = new Promise((resolve) => child.once('exit', (code) => {
      process.off('exit', killOnExit);
      resolve(code);
    }));
    const started = await Promise.race([
      accepting(port).then(() => true),
      exited.then(() => false),
    ]);
    const log = () => output + (existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : '');
    if (!started) {
      // The port was taken meanwhile: try another one, a few times.
      if (attempt < 3 && /in use/i.test(log())) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${proxy} did not start: ${log()}`);
    }
    const stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    };
    return { url: `http://127.0.0.1:${port}`, port, stop, log };
  }
}
