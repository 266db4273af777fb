// The binary behind Debian's nginx and HAProxy, configured as docs/deploy.md
// says (lib/proxies.mjs), with --trust-proxy 127.0.0.1 (the proxy's address
// as siobridge sees it): socket.io-client 4.8 works through the proxy over
// polling, WebSocket and the upgrade; the per-address session cap counts the
// client's address (the test connects from 127.0.0.2, 127.0.0.3, ...), not
// the proxy's; an X-Forwarded-For the client made up is not believed.
// scripts/test installs both proxies; a machine without them skips, saying so.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { eventually } from '../lib/hostile.mjs';
import { startProxy, unavailable } from '../lib/proxies.mjs';
import { once } from '../lib/wait.mjs';

const CONNECT_TIMEOUT_MS = 10_000;

/** A socket.io-client from loopback address `from`, through `url`. */
function clientFrom(url, from, options = {}) {
  return io(url, {
    agent: new http.Agent({ localAddress: from }),
    localAddress: from,
    reconnection: false,
    forceNew: true,
    timeout: CONNECT_TIMEOUT_MS,
    ...options,
  });
}

/** Resolves `'connected'` or the connect_error's message. */
function outcome(socket) {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (error) => resolve(`refused: ${error.message}`));
  });
}

for (const proxy of ['nginx', 'haproxy']) {
  const missing = process.env.SIOBRIDGE_BIN ? unavailable(proxy) : 'the reference bridge has no --trust-proxy';
  describe(`behind ${proxy}`, { skip: missing ?? false }, () => {
    let bridge;
    let front;
    before(async () => {
      bridge = await startBridge({
        args: ['--trust-proxy', '127.0.0.1', '--max-sessions-per-ip', '1', '--log-format', 'json', '--profile', '/=chat'],
        env: { SIOBRIDGE_LOG: 'debug' },
      });
      front = await startProxy(proxy, `127.0.0.1:${bridge.port}`);
    });
    after(async () => {
      await front?.stop();
      await bridge?.stop();
    });

    const logged = (event, socketId) => eventually(
      () => bridge.stderrLines().map((l) => JSON.parse(l)).find((e) => e.event === event && e.socket === socketId),
      { what: `the ${event} line of socket ${socketId}` },
    );

    let nextAddress = 2;
    for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
      test(`over ${transports.join(' upgraded to ')}: the client's own address is counted and logged`, async (t) => {
        const from = `127.0.0.${nextAddress++}`;
        const socket = clientFrom(front.url, from, { transports });
        t.after(() => socket.close());
        assert.equal(await outcome(socket), 'connected', front.log());
        if (transports.length === 2 && socket.io.engine.transport.name !== 'websocket') {
          await once(socket.io.engine, 'upgrade', { timeoutMs: CONNECT_TIMEOUT_MS });
        }
        assert.equal(socket.io.engine.transport.name, transports.at(-1));
        assert.equal((await logged('connect', socket.id)).address, from);

        // The same address again is over the cap of one session...
        const second = clientFrom(front.url, from, { transports: [transports[0]] });
        t.after(() => second.close());
        assert.match(await outcome(second), /^refused/);
        // ...and so is a client that claims another address from there...
        const spoofing = clientFrom(front.url, from, {
          transports: [transports[0]],
          extraHeaders: { 'X-Forwarded-For': '127.0.0.250' },
        });
        t.after(() => spoofing.close());
        assert.match(await outcome(spoofing), /^refused/);
        // ...while another address is a client of its own (the proxy's
        // address would be over the cap already).
        const other = clientFrom(front.url, `127.0.0.${nextAddress++}`, { transports: [transports[0]] });
        t.after(() => other.close());
        assert.equal(await outcome(other), 'connected');

        // Events go through both ways (the chat profile's `message` echo).
        const echoed = once(socket, 'message', { timeoutMs: CONNECT_TIMEOUT_MS });
        socket.emit('message', `through ${proxy}`);
        assert.deepEqual(await echoed, [`through ${proxy}`]);
        const id = socket.id;
        socket.disconnect();
        other.disconnect();
        assert.equal((await logged('disconnect', id)).reason, 'client namespace disconnect');
      });
    }
  });
  if (missing) test(`behind ${proxy}: skipped, ${missing}`, { skip: missing }, () => {});
}
