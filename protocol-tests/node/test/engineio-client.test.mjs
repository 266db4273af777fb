// The official engine.io-client against the echo server of the conformance
// contract, over polling only, websocket only, and polling upgraded to
// websocket. Section names in comments refer to the headings of the
// Engine.IO protocol v4 specification (socketio/engine.io-protocol, README).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Socket } from 'engine.io-client';
import { startServer } from '../lib/server.mjs';
import { collect, expectNoEvent, once } from '../lib/wait.mjs';

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;

const SETUPS = [
  { name: 'polling', transports: ['polling'], offeredUpgrades: ['websocket'] },
  { name: 'websocket', transports: ['websocket'], offeredUpgrades: [] },
  { name: 'upgrade', transports: ['polling', 'websocket'], offeredUpgrades: ['websocket'] },
];

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

function createSocket(t, setup) {
  const socket = new Socket(server.url, { transports: setup.transports });
  t.after(() => socket.close());
  return socket;
}

/**
 * Opens a client for `setup` and resolves once it is ready for the scenario:
 * open, and for the upgrade setup also upgraded to websocket.
 */
async function connect(t, setup) {
  const socket = createSocket(t, setup);
  const upgrading = setup.name === 'upgrade';
  const [[handshake]] = await Promise.all([
    once(socket, 'handshake'),
    once(socket, 'open'),
    upgrading && once(socket, 'upgrade'),
  ]);
  assert.equal(socket.transport.name, upgrading ? 'websocket' : setup.transports[0]);
  return { socket, handshake };
}

// The client's way of answering a ping: in engine.io-client 6.6
// (build/*/socket.js) `_onPacket` handles a `ping` packet by calling
// `this._sendPacket("pong")`, then emits "ping". Shadowing `_sendPacket` on
// the instance drops the pongs and nothing else.
function suppressPongs(socket) {
  const sendPacket = socket._sendPacket;
  socket._sendPacket = function (type, ...rest) {
    if (type === 'pong') return;
    return sendPacket.call(this, type, ...rest);
  };
}

const scenarios = {
  // Protocol > Handshake: the client takes the session and timings from the
  // open packet.
  async 'opens a session with the handshake values'(t, setup) {
    const { socket, handshake } = await connect(t, setup);
    assert.equal(socket.readyState, 'open');
    assert.equal(typeof socket.id, 'string');
    assert.ok(socket.id.length > 0);
    assert.equal(socket.id, handshake.sid);
    assert.deepEqual(handshake.upgrades, setup.offeredUpgrades);
    assert.equal(handshake.pingInterval, PING_INTERVAL);
    assert.equal(handshake.pingTimeout, PING_TIMEOUT);
    assert.equal(handshake.maxPayload, MAX_PAYLOAD);
  },

  async 'echoes a text message'(t, setup) {
    const { socket } = await connect(t, setup);
    const text = 'hello, héllo € 😀';
    socket.send(text);
    const [echo] = await once(socket, 'message');
    assert.equal(echo, text);
  },

  async 'echoes a binary message byte for byte'(t, setup) {
    const { socket } = await connect(t, setup);
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    socket.send(bytes);
    const [echo] = await once(socket, 'message');
    assert.ok(Buffer.isBuffer(echo), `binary expected, got ${typeof echo}`);
    assert.deepEqual(echo, Buffer.from(bytes));
  },

  async 'keeps several messages in order'(t, setup) {
    const { socket } = await connect(t, setup);
    const sent = Array.from({ length: 20 }, (_, i) => (i % 2 ? Buffer.from([i, 255 - i]) : `message ${i}`));
    const echoes = collect(socket, 'message', sent.length);
    for (const message of sent) socket.send(message);
    assert.deepEqual(await echoes, sent);
  },

  async 'echoes a text message close to maxPayload intact'(t, setup) {
    const { socket } = await connect(t, setup);
    const text = 'x'.repeat(990_000);
    socket.send(text);
    const [echo] = await once(socket, 'message');
    assert.ok(echo === text, `echo of ${echo.length} chars differs from the ${text.length} sent`);
  },

  // Over websocket the server closes the connection (the reference with code
  // 1009, "transport close"); over polling it refuses the POST with 413 and
  // the client gives up ("transport error"). Either way, no echo.
  async 'ends the session when a message exceeds maxPayload'(t, setup) {
    const { socket } = await connect(t, setup);
    const echoes = [];
    socket.on('message', (message) => echoes.push(message));
    const closed = once(socket, 'close');
    socket.send('x'.repeat(1_100_000));
    const [reason] = await closed;
    assert.ok(['transport close', 'transport error'].includes(reason), `close reason ${reason}`);
    assert.equal(echoes.length, 0, 'the oversized message was echoed');
  },

  // Protocol > Heartbeat: "If the server does not receive a pong packet back,
  // then it SHOULD consider that the connection is closed." The client's own
  // timer would fire pingInterval + pingTimeout after the last ping, with
  // reason "ping timeout"; the server's fires pingTimeout after it, first.
  async 'is dropped by the server when it stops answering pings'(t, setup) {
    const { socket } = await connect(t, setup);
    suppressPongs(socket);
    await once(socket, 'ping', { timeoutMs: PING_INTERVAL + 1000 });
    const unansweredAt = Date.now();
    const [reason] = await once(socket, 'close', { timeoutMs: 2000 });
    const elapsed = Date.now() - unansweredAt;
    assert.equal(reason, 'transport close', 'the server, not the client, must end the session');
    assert.ok(elapsed < 1500, `closed ${elapsed} ms after the first unanswered ping`);
    assert.ok(elapsed >= PING_TIMEOUT / 2, `closed ${elapsed} ms after the first unanswered ping, before pingTimeout`);
  },
};

for (const setup of SETUPS) {
  describe(`engine.io-client over ${setup.name}`, () => {
    for (const [name, scenario] of Object.entries(scenarios)) {
      test(name, (t) => scenario(t, setup));
    }

    if (setup.name === 'upgrade') {
      // Protocol > Upgrade: the client pauses polling while it probes, so
      // messages sent before, during and right after the switch must each be
      // echoed once, in the order sent.
      test('messages sent around the upgrade arrive exactly once and in order', async (t) => {
        const socket = createSocket(t, setup);
        const sent = [];
        const sendBatch = (label) => {
          for (let i = 0; i < 5; i++) {
            sent.push(`${label} ${i}`);
            socket.send(`${label} ${i}`);
          }
        };
        socket.once('open', () => sendBatch('before upgrade'));
        socket.once('upgrading', () => sendBatch('during upgrade'));
        socket.once('upgrade', () => sendBatch('after upgrade'));
        const echoes = await collect(socket, 'message', 15);
        assert.equal(socket.transport.name, 'websocket');
        assert.deepEqual(echoes, sent);
        await expectNoEvent(socket, 'message', 200);
      });
    }
  });
}
