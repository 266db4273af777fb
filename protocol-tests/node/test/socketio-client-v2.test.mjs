// socket.io-client 2.5 (Engine.IO v3, Socket.IO protocol v4: what socket.io
// 2.x clients still deployed speak) against the test app served with
// allowEIO3 (SIOBRIDGE_ALLOW_EIO3=1), over websocket, polling and polling
// upgraded to websocket. The features are the matrix's, in the 2.x client's
// own terms: the namespace's query is its handshake auth, a refusal is an
// `error` event carrying the middleware's `data` (or its message), `/` is
// joined implicitly and the socket ids are the Engine.IO id (`nsp#id`
// outside `/`), exactly as the reference server with allowEIO3 does.
import assert from 'node:assert/strict';
import { setTimeout as quietWindow } from 'node:timers/promises';
import io from 'socket.io-client-v2';
import { ACK_TIMEOUT_MS, JSON_ARGS, QUIET_MS, SETUPS, bytes, defineSuite } from '../lib/sio-scenarios.mjs';
import { first, once } from '../lib/wait.mjs';

// The test app's pingInterval and pingTimeout: a v3 client pings every
// interval and waits for the pong up to the timeout.
const PING_INTERVAL = 300;
// See the volatile scenario.
const SETTLE_MS = 50;

/** Emits `event` with a callback and resolves with all the ack's arguments. */
function request(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${ACK_TIMEOUT_MS} ms`)), ACK_TIMEOUT_MS);
    socket.emit(event, ...args, (...reply) => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

/** Opens a client on `nsp` and resolves with the payload of its `error` (a refusal). */
async function refusal(ctx, nsp, options = {}) {
  const socket = ctx.open(nsp, options);
  const { event, args } = await first(socket, ['connect', 'error']);
  assert.equal(event, 'error', `${nsp} accepted the connection`);
  assert.equal(socket.connected, false);
  return args[0];
}

/** Records the argument lists of `events` as `socket` receives them. */
function recorder(socket, events) {
  const log = [];
  for (const event of events) socket.on(event, (...args) => log.push([event, args]));
  return (event) => log.filter(([type]) => type === event).map(([, args]) => args);
}

/** Clients A, B, C on `/`, A and B in room r1, each recording `events`. */
async function threeClients(ctx, events) {
  const clients = await Promise.all(['A', 'B', 'C'].map(async (name) => {
    const { socket } = await ctx.connect('/');
    return { name, socket, received: recorder(socket, events) };
  }));
  for (const { socket } of clients.slice(0, 2)) assert.deepEqual(await request(socket, 'join', 'r1'), ['r1']);
  return clients;
}

/** `act()`, then each receiver has `event` with `data` exactly once, the others never. */
async function expectDelivery(clients, receivers, event, data, act) {
  const arrivals = receivers.map((client) => once(client.socket, event));
  await act();
  await Promise.all(arrivals);
  await quietWindow(QUIET_MS);
  for (const client of clients) {
    const expected = receivers.includes(client) ? [[data]] : [];
    assert.deepEqual(client.received(event), expected, `"${event}" as received by ${client.name}`);
  }
}

const scenarios = {
  'connect-auth': {
    async 'is in / implicitly, with its Engine.IO id as socket id'(ctx) {
      const { socket, welcome } = await ctx.connect('/');
      assert.equal(socket.id, socket.io.engine.id);
      assert.deepEqual(welcome, { id: socket.id, nsp: '/', auth: {} });
    },

    async 'the query of / goes to the Engine.IO handshake, not to auth'(ctx) {
      const { welcome } = await ctx.connect('/', { query: { token: 'x' } });
      assert.deepEqual(welcome.auth, {});
    },

    async 'the query of /custom is its auth, and its socket id is /custom#<engine id>'(ctx) {
      const { socket, welcome } = await ctx.connect('/custom', { query: { token: 'x y', n: 1 } });
      assert.equal(socket.id, `/custom#${socket.io.engine.id}`);
      assert.deepEqual(welcome, { id: socket.id, nsp: '/custom', auth: { token: 'x y', n: '1' } });
    },

    async '/private accepts the right token, and a dynamic namespace connects'(ctx) {
      const { socket, welcome } = await ctx.connect('/private', { query: { token: 'secret' } });
      assert.deepEqual(welcome, { id: socket.id, nsp: '/private', auth: { token: 'secret' } });
      const dynamic = await ctx.connect('/dyn-42');
      assert.equal(dynamic.welcome.nsp, '/dyn-42');
    },
  },

  'auth-error': {
    // Socket.IO v4's ERROR packet carries `err.data || err.message`.
    async '/private refuses a wrong or missing token with the error data'(ctx) {
      for (const options of [{ query: { token: 'wrong' } }, {}]) {
        assert.deepEqual(await refusal(ctx, '/private', options), { code: 401 });
      }
    },

    async 'an unknown namespace is refused with "Invalid namespace"'(ctx) {
      assert.deepEqual(await refusal(ctx, '/nope'), { message: 'Invalid namespace' });
    },
  },

  'emit-ack': {
    async 'acknowledges client events with their arguments'(ctx) {
      const { socket } = await ctx.connect('/');
      const payload = { text: 'héllo 😀', n: 42, list: [1, null, 'x'], nested: { ok: true } };
      assert.deepEqual(await request(socket, 'echo', payload), [payload]);
      assert.deepEqual(await request(socket, 'echo', ...JSON_ARGS), JSON_ARGS);
      const echoed = once(socket, 'echo');
      socket.emit('echo', 'no ack', 2);
      assert.deepEqual(await echoed, ['no ack', 2]);
    },

    async '200 events arrive in order'(ctx) {
      const { socket } = await ctx.connect('/');
      const seen = [];
      const all = new Promise((resolve) => socket.on('echo', (n) => {
        seen.push(n);
        if (seen.length === 200) resolve();
      }));
      for (let n = 0; n < 200; n++) socket.emit('echo', n);
      await Promise.race([all, quietWindow(5000).then(() => assert.fail(`got ${seen.length} of 200`))]);
      assert.deepEqual(seen, Array.from({ length: 200 }, (_, n) => n));
    },
  },

  'server-ack': {
    async 'the server gets the answer to its acknowledged event'(ctx) {
      const { socket } = await ctx.connect('/');
      socket.on('question', (data, ack) => ack({ answer: data.n + 1 }));
      const [result] = await request(socket, 'ask', { event: 'question', data: { n: 1 }, timeout: 2000 });
      assert.deepEqual(result, { err: null, reply: { answer: 2 } });
    },

    async 'the server times out when the client never answers'(ctx) {
      const { socket } = await ctx.connect('/');
      let asked = 0;
      socket.on('question', () => asked++);
      const [result] = await request(socket, 'ask', { event: 'question', data: { n: 1 }, timeout: 300 });
      assert.deepEqual(result, { err: 'operation has timed out', reply: null });
      assert.equal(asked, 1);
    },
  },

  binary: {
    async 'binary arguments come back byte for byte, in acks and in events'(ctx) {
      const { socket } = await ctx.connect('/');
      const single = bytes(256);
      assert.deepEqual(await request(socket, 'echo', single), [single]);
      const nested = { name: 'file.bin', content: bytes(1000, 1), parts: [bytes(3, 2), 'text'] };
      assert.deepEqual(await request(socket, 'echo', nested), [nested]);
      const args = [bytes(10, 3), 'between', bytes(20, 4)];
      assert.deepEqual(await request(socket, 'echo', ...args), args);
      const echoed = once(socket, 'echo');
      socket.emit('echo', bytes(5, 5), 'tail');
      assert.deepEqual(await echoed, [bytes(5, 5), 'tail']);
    },
  },

  broadcast: {
    async 'rooms and broadcasts reach exactly their clients'(ctx) {
      const clients = await threeClients(ctx, ['news', 'room-news', 'direct']);
      const [a, b, c] = clients;
      const [rooms] = await request(a.socket, 'rooms');
      assert.deepEqual(rooms, [a.socket.id, 'r1'].sort());
      await expectDelivery(clients, [a, b], 'room-news', { to: 'r1' }, () =>
        request(c.socket, 'to-room', { room: 'r1', event: 'room-news', data: { to: 'r1' } }));
      await expectDelivery(clients, [b, c], 'news', ['all', 'but', 'A'], () =>
        request(a.socket, 'broadcast', { event: 'news', data: ['all', 'but', 'A'] }));
      // A socket id is a room: the 2.x client's own id addresses it.
      await expectDelivery(clients, [c], 'direct', 'to C', () =>
        request(a.socket, 'to-room', { room: c.socket.id, event: 'direct', data: 'to C' }));
    },
  },

  volatile: {
    // Right after a heartbeat the polling client has a GET pending again.
    async 'a volatile event reaches a connected client'(ctx) {
      const { socket } = await ctx.connect('/');
      await once(socket.io.engine, 'pong', { timeoutMs: PING_INTERVAL + 1000 });
      // The client's new GET and the POST below travel on two connections:
      // a short pause lets the GET reach the server first. It orders the
      // client's own requests; no verdict depends on it.
      await quietWindow(SETTLE_MS);
      const arrived = once(socket, 'fleeting');
      await request(socket, 'volatile', { event: 'fleeting', data: { n: 7 } });
      assert.deepEqual(await arrived, [{ n: 7 }]);
    },
  },

  disconnect: {
    async 'disconnect-me ends the socket with "io server disconnect"'(ctx) {
      const { socket } = await ctx.connect('/');
      const disconnected = once(socket, 'disconnect');
      socket.emit('disconnect-me');
      assert.deepEqual(await disconnected, ['io server disconnect']);
      assert.equal(socket.connected, false);
    },

    async 'a client disconnect reports "io client disconnect"'(ctx) {
      const { socket } = await ctx.connect('/');
      const disconnected = once(socket, 'disconnect');
      socket.disconnect();
      assert.deepEqual(await disconnected, ['io client disconnect']);
    },

    async 'the session outlives several heartbeats (the client pings, the server answers)'(ctx) {
      const { socket } = await ctx.connect('/');
      for (let i = 0; i < 3; i++) await once(socket.io.engine, 'pong', { timeoutMs: PING_INTERVAL + 1000 });
      assert.equal(socket.connected, true);
      assert.deepEqual(await request(socket, 'echo', 'still here'), ['still here']);
    },
  },

  reconnect: {
    async 'reconnects after the server closes the transport, with a new id'(ctx) {
      const { socket } = await ctx.connect('/', { reconnection: true, reconnectionDelay: 50 });
      const firstId = socket.id;
      const disconnected = once(socket, 'disconnect');
      const reconnected = once(socket, 'reconnect', { timeoutMs: 5000 });
      const welcomedAgain = once(socket, 'welcome', { timeoutMs: 5000 });
      socket.emit('close-transport');
      assert.deepEqual(await disconnected, ['transport close']);
      await reconnected;
      const [welcome] = await welcomedAgain;
      assert.notEqual(socket.id, firstId);
      assert.equal(socket.id, socket.io.engine.id);
      assert.deepEqual(welcome, { id: socket.id, nsp: '/', auth: {} });
      assert.deepEqual(await request(socket, 'echo', 'again'), ['again']);
    },
  },
};

defineSuite({
  title: 'socket.io-client 2.5',
  client: 'socket.io-client 2.5 (Node)',
  suite: 'socketio-client-v2-node',
  io,
  setups: [SETUPS.websocket, SETUPS.polling, SETUPS.upgrade],
  scenarios,
  env: { SIOBRIDGE_ALLOW_EIO3: '1' },
});
