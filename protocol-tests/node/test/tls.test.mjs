// TLS on the server's own listener (ServerConfig::tls; the binary's
// --tls-cert / --tls-key): socket.io-client 4.8 over https and wss, trusting
// only a test CA made by the test (lib/tls.mjs). Polling, WebSocket and the
// upgrade between them work; a certificate that expired, or that names
// another host, is refused by the client; a bad certificate file stops the
// binary with status 2; a TLS handshake that never comes is cut off.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { runBridge, startBridge } from '../lib/bridge.mjs';
import { maskedFrame, rawConnection, within } from '../lib/hostile.mjs';
import { startServer } from '../lib/server.mjs';
import { makeTestPki } from '../lib/tls.mjs';
import { once } from '../lib/wait.mjs';

// Upper bound for a client to connect or fail (not a speed requirement).
const CONNECT_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 1000;

const pki = makeTestPki();
after(() => pki.cleanup());

const httpsUrl = (server) => server.url.replace(/^http:/, 'https:');

/** Connects socket.io-client to `url` trusting only the test CA. */
function connect(url, options = {}) {
  return io(url, { ca: pki.ca, reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS, ...options });
}

/** Resolves once `socket` connected; rejects on connect_error. */
function connected(socket) {
  return within(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  }), CONNECT_TIMEOUT_MS, 'the connection');
}

/** Resolves with the connect_error of `socket`; rejects if it connects. */
function refused(socket) {
  return within(new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('the client connected despite the certificate')));
    socket.once('connect_error', resolve);
  }), CONNECT_TIMEOUT_MS, 'the refusal');
}

/** The error a plain TLS client (Node's, with the test CA) gets from `port`. */
function tlsError(port, servername) {
  return within(new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername, ca: pki.ca });
    socket.once('secureConnect', () => {
      socket.destroy();
      reject(new Error('the TLS handshake succeeded'));
    });
    socket.once('error', resolve);
  }), CONNECT_TIMEOUT_MS, 'the TLS handshake');
}

// Against the reference test app (SIOBRIDGE_TESTAPP unset) the same cases run
// on Node's https server, the oracle they were checked with.
describe('the test app over TLS (library: ServerConfig::tls)', () => {
  let server;
  before(async () => {
    server = await startServer({
      app: 'testapp',
      env: {
        SIOBRIDGE_TLS_CERT: pki.valid.cert,
        SIOBRIDGE_TLS_KEY: pki.valid.key,
        SIOBRIDGE_TLS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
      },
    });
  });
  after(() => server?.stop());

  for (const [mode, options] of [
    ['polling over https', { transports: ['polling'] }],
    ['websocket over wss', { transports: ['websocket'] }],
  ]) {
    test(`${mode}: connects and echoes`, async (t) => {
      const socket = connect(httpsUrl(server), options);
      t.after(() => socket.close());
      await connected(socket);
      assert.equal(socket.io.engine.transport.name, options.transports[0]);
      assert.deepEqual(await socket.timeout(5000).emitWithAck('echo', { text: 'héllo', n: 1 }), { text: 'héllo', n: 1 });
    });
  }

  test('polling upgrades to wss and keeps echoing', async (t) => {
    const socket = connect(httpsUrl(server).replace('127.0.0.1', 'localhost'));
    t.after(() => socket.close());
    await connected(socket);
    if (socket.io.engine.transport.name !== 'websocket') {
      await once(socket.io.engine, 'upgrade', { timeoutMs: CONNECT_TIMEOUT_MS });
    }
    assert.equal(socket.io.engine.transport.name, 'websocket');
    assert.equal(await socket.timeout(5000).emitWithAck('echo', 'after upgrade'), 'after upgrade');
  });

  test('plain http on the TLS port gets no answer', async () => {
    const socket = connect(server.url, { transports: ['polling'] });
    try {
      await refused(socket);
    } finally {
      socket.close();
    }
  });

  test('a client that never starts the TLS handshake is cut off after the handshake timeout', async () => {
    const connection = rawConnection(server.port);
    await connection.connected;
    const started = Date.now();
    const { raw } = await within(connection.closed, 10 * HANDSHAKE_TIMEOUT_MS, 'the server to close the connection');
    assert.equal(raw.length, 0);
    // Not before the timeout: the cut is the handshake timeout, not something else.
    assert.ok(Date.now() - started >= HANDSHAKE_TIMEOUT_MS * 0.9, `closed after ${Date.now() - started} ms`);
  });
});

// Beneath TLS, the connection is the same TimedIo: the HTTP timeouts apply to
// the decrypted stream, the write stall timeout to the TLS records.
describe('the test app over TLS: the HTTP timeouts still apply', () => {
  const SHORT_MS = 1500;
  let server;
  before(async () => {
    server = await startServer({
      app: 'testapp',
      env: {
        SIOBRIDGE_TLS_CERT: pki.valid.cert,
        SIOBRIDGE_TLS_KEY: pki.valid.key,
        SIOBRIDGE_HEADER_READ_TIMEOUT_MS: String(SHORT_MS),
        SIOBRIDGE_WRITE_TIMEOUT_MS: String(SHORT_MS),
      },
    });
  });
  after(() => server?.stop());

  /** A TLS connection trusting the test CA, once its handshake is done. */
  async function secureConnection() {
    const socket = tls.connect({ port: server.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca });
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await within(new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    }), CONNECT_TIMEOUT_MS, 'the TLS handshake');
    return { socket, closed };
  }

  test('a client that completes the TLS handshake and sends no request is dropped at the header-read timeout', async (t) => {
    if (server.reference) return t.skip('the reference test app cannot shorten headersTimeout');
    const { closed } = await secureConnection();
    const started = Date.now();
    await within(closed, 10 * SHORT_MS, 'the server to drop the silent connection');
    assert.ok(Date.now() - started >= SHORT_MS * 0.9, `dropped after ${Date.now() - started} ms`);
  });

  test('a wss client that never reads is dropped at the write timeout', async (t) => {
    if (server.reference) return t.skip('the reference has no write timeout');
    const { socket, closed } = await secureConnection();
    const key = crypto.randomBytes(16).toString('base64');
    let head = '';
    const upgraded = within(new Promise((resolve) => {
      const onData = (chunk) => {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
    }), CONNECT_TIMEOUT_MS, 'the 101 answer');
    socket.write(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n`
      + `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
    await upgraded;
    assert.match(head, /^HTTP\/1\.1 101 /);
    socket.pause();
    socket.write(maskedFrame('40'));
    const event = `42["echo","${'x'.repeat(64 * 1024)}"]`;
    for (let i = 0; i < 320; i++) socket.write(maskedFrame(event));
    // Pings keep the connection busy both ways, so its end is noticed.
    const timer = setInterval(() => socket.writable && socket.write(Buffer.from([0x89, 0x80, 0, 0, 0, 0])), 200);
    try {
      await within(closed, 10 * SHORT_MS + 20_000, 'the server to drop the client that never reads');
    } finally {
      clearInterval(timer);
    }
  });
});

describe('the binary over TLS (--tls-cert / --tls-key)', { skip: !process.env.SIOBRIDGE_BIN && 'the reference bridge has no TLS flags' }, () => {
  /** Starts the binary with `pair` as its certificate. */
  async function bridgeWith(t, pair) {
    const bridge = await startBridge({ args: ['--tls-cert', pair.cert, '--tls-key', pair.key] });
    t.after(() => bridge.stop());
    return bridge;
  }

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    test(`connects over ${transports.join(' then ')}`, async (t) => {
      const bridge = await bridgeWith(t, pki.valid);
      const socket = connect(httpsUrl(bridge), { transports });
      t.after(() => socket.close());
      await connected(socket);
      assert.ok(socket.id);
      if (transports.length === 2 && socket.io.engine.transport.name !== 'websocket') {
        await once(socket.io.engine, 'upgrade', { timeoutMs: CONNECT_TIMEOUT_MS });
      }
      assert.equal(socket.io.engine.transport.name, transports.at(-1));
      const health = await fetchHealth(bridge.port);
      assert.equal(health, '{"status":"ok"}');
    });
  }

  test('an expired certificate is refused by the client', async (t) => {
    const bridge = await bridgeWith(t, pki.expired);
    assert.equal((await tlsError(bridge.port, 'localhost')).code, 'CERT_HAS_EXPIRED');
    for (const transports of [['polling'], ['websocket']]) {
      const socket = connect(httpsUrl(bridge).replace('127.0.0.1', 'localhost'), { transports });
      try {
        await refused(socket);
      } finally {
        socket.close();
      }
    }
  });

  test('a certificate for another name is refused by the client', async (t) => {
    const bridge = await bridgeWith(t, pki.mismatched);
    assert.equal((await tlsError(bridge.port, 'localhost')).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    for (const transports of [['polling'], ['websocket']]) {
      const socket = connect(httpsUrl(bridge).replace('127.0.0.1', 'localhost'), { transports });
      try {
        await refused(socket);
      } finally {
        socket.close();
      }
    }
  });

  test('a missing, bad or half-given certificate stops the binary with status 2', async () => {
    for (const [args, said] of [
      [['--tls-cert', pki.valid.cert], /--tls-cert needs --tls-key/],
      [['--tls-key', pki.valid.key], /--tls-key needs --tls-cert/],
      [['--tls-cert', `${pki.dir}/nope.pem`, '--tls-key', pki.valid.key], /TLS certificate file .*nope\.pem/],
      [['--tls-cert', pki.valid.key, '--tls-key', pki.valid.key], /no PEM CERTIFICATE/],
      [['--tls-cert', pki.valid.cert, '--tls-key', pki.valid.cert], /no usable PEM private key/],
      [['--tls-cert', pki.valid.cert, '--tls-key', pki.mismatched.key], /do not go together/],
    ]) {
      const result = await runBridge({ args: ['--listen', '127.0.0.1:0', ...args] });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, said);
      assert.equal(result.stdout, '');
    }
    const fromEnv = await runBridge({
      args: ['--listen', '127.0.0.1:0'],
      env: { SIOBRIDGE_TLS_CERT: pki.valid.cert },
    });
    assert.equal(fromEnv.code, 2);
  });
});

/** GET /healthz over https, trusting the test CA. */
async function fetchHealth(port) {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path: '/healthz', ca: pki.ca }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve(body));
    });
    request.on('error', reject);
  });
}
