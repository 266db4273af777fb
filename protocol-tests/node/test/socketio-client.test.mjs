// The official socket.io-client 4.8 against the test app (README.md, "The
// test-app contract") over websocket only, polling only, and polling upgraded
// to websocket: namespaces and their errors, events and acknowledgements both
// ways, binary, rooms and broadcasts, volatile events, disconnection and
// reconnection.
import assert from 'node:assert/strict';
import { setTimeout as quietWindow } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { JSON_ARGS, SETUPS, bytes, coreScenarios, defineSuite, request } from '../lib/sio-scenarios.mjs';
import { collect, once } from '../lib/wait.mjs';

const PING_INTERVAL = 300;
// How long a client must stay silent to count as not having received an event.
const QUIET_MS = 300;

/**
 * Connects clients A, B and C to `/` and has A and B join room "r1". Each
 * client records the events it receives (`received(event)` lists their
 * argument lists), so a step can check who got what, and how many times.
 */
async function threeClientsInRoom(clients) {
  const [a, b, c] = await Promise.all(['A', 'B', 'C'].map(async (name) => {
    const { socket } = await clients.connect('/');
    const log = [];
    socket.onAny((event, ...args) => log.push([event, args]));
    const received = (event) => log.filter(([type]) => type === event).map(([, args]) => args);
    return { name, socket, received };
  }));
  // Joins are acknowledged once done: no wait needed before broadcasting.
  assert.equal(await request(a.socket, 'join', 'r1'), 'r1');
  assert.equal(await request(b.socket, 'join', 'r1'), 'r1');
  return [a, b, c];
}

/**
 * Runs `act` (which makes the test app emit `event` with `data`), waits until
 * each of `receivers` has it, then watches a quiet window: each receiver must
 * end up with it exactly once, and every other client without it.
 */
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
  ...coreScenarios,

  async 'an unknown namespace is refused with "Invalid namespace"'(ctx) {
    const error = await ctx.connectError('/nope');
    assert.equal(error.message, 'Invalid namespace');
  },

  async 'a namespace matching the dynamic pattern is created on demand'(ctx) {
    const { socket, welcome } = await ctx.connect('/dyn-42');
    assert.deepEqual(welcome, { id: socket.id, nsp: '/dyn-42', auth: {} });
    assert.deepEqual(await socket.emitWithAck('echo', 'dynamic'), 'dynamic');
    const error = await ctx.connectError('/dyn-x');
    assert.equal(error.message, 'Invalid namespace');
  },

  async 'echoes an event with several arguments as an event'(ctx) {
    for (const nsp of ['/', '/custom']) {
      const { socket } = await ctx.connect(nsp);
      const echoed = once(socket, 'echo');
      socket.emit('echo', ...JSON_ARGS);
      assert.deepEqual(await echoed, JSON_ARGS);
    }
  },

  async 'echoes binary arguments byte for byte as an event'(ctx) {
    const { socket } = await ctx.connect('/');
    const sent = [
      [bytes(256)],
      [{ name: 'file.bin', content: bytes(1000, 1), meta: { parts: [bytes(3, 2)] } }],
      [bytes(10, 3), 'between', bytes(20, 4)],
    ];
    for (const args of sent) {
      const echoed = once(socket, 'echo');
      socket.emit('echo', ...args);
      assert.deepEqual(await echoed, args);
    }
  },

  async 'keeps 200 events in order'(ctx) {
    const { socket } = await ctx.connect('/');
    const sent = Array.from({ length: 200 }, (_, i) => i);
    const echoes = collect(socket, 'echo', sent.length);
    for (const i of sent) socket.emit('echo', i);
    assert.deepEqual(await echoes, sent);
  },

  async 'rooms lists the joined rooms and the socket\'s own id'(ctx) {
    const [a, b, c] = await threeClientsInRoom(ctx);
    assert.deepEqual(await request(a.socket, 'rooms'), [a.socket.id, 'r1'].sort());
    assert.deepEqual(await request(b.socket, 'rooms'), [b.socket.id, 'r1'].sort());
    assert.deepEqual(await request(c.socket, 'rooms'), [c.socket.id]);
    assert.equal(await request(b.socket, 'leave', 'r1'), 'r1');
    assert.deepEqual(await request(b.socket, 'rooms'), [b.socket.id]);
    assert.deepEqual(await request(a.socket, 'rooms'), [a.socket.id, 'r1'].sort());
  },

  // io.to(room) is not tied to the sender: a member that asks gets it too.
  async 'to-room reaches every member of the room'(ctx) {
    const clients = await threeClientsInRoom(ctx);
    const [a, b, c] = clients;
    await expectDelivery(clients, [a, b], 'from-c', { n: 1 }, () =>
      request(c.socket, 'to-room', { room: 'r1', event: 'from-c', data: { n: 1 } }));
    await expectDelivery(clients, [a, b], 'from-a', { n: 2 }, () =>
      request(a.socket, 'to-room', { room: 'r1', event: 'from-a', data: { n: 2 } }));
  },

  async 'to-room-from-me reaches the other members only'(ctx) {
    const clients = await threeClientsInRoom(ctx);
    const [a, b] = clients;
    await expectDelivery(clients, [b], 'news', 'to r1 but me', () =>
      request(a.socket, 'to-room-from-me', { room: 'r1', event: 'news', data: 'to r1 but me' }));
  },

  async 'broadcast reaches everyone but the sender'(ctx) {
    const clients = await threeClientsInRoom(ctx);
    const [a, b, c] = clients;
    await expectDelivery(clients, [b, c], 'news', ['all', 'but', 'A'], () =>
      request(a.socket, 'broadcast', { event: 'news', data: ['all', 'but', 'A'] }));
  },

  async 'to-all reaches everyone, the sender included'(ctx) {
    const clients = await threeClientsInRoom(ctx);
    const [a, b, c] = clients;
    await expectDelivery(clients, [a, b, c], 'news', 'everyone', () =>
      request(a.socket, 'to-all', { event: 'news', data: 'everyone' }));
  },

  // Asked by C, outside the room: io.except() does not leave the sender out.
  async 'except-room reaches everyone outside the room'(ctx) {
    const clients = await threeClientsInRoom(ctx);
    const [, , c] = clients;
    await expectDelivery(clients, [c], 'news', null, () =>
      request(c.socket, 'except-room', { room: 'r1', event: 'news', data: null }));
  },

  async 'a socket that left the room no longer gets its events'(ctx) {
    const clients = await threeClientsInRoom(ctx);
    const [a, b, c] = clients;
    assert.equal(await request(b.socket, 'leave', 'r1'), 'r1');
    await expectDelivery(clients, [a], 'news', 'r1 after B left', () =>
      request(c.socket, 'to-room', { room: 'r1', event: 'news', data: 'r1 after B left' }));
  },

  // A broadcast with an acknowledgement waits for one reply per client of `/`,
  // so this needs a server where A, B and C are the only clients.
  async 'a broadcast with ack collects one reply per client'(ctx) {
    const [a, b, c] = await threeClientsInRoom(await ctx.ownServer());
    for (const client of [a, b, c]) client.socket.on('roll-call', (data, ack) => ack(`${client.name}:${data}`));
    const result = await request(a.socket, 'ask-all', { event: 'roll-call', data: 'here', timeout: 2000 });
    assert.deepEqual(result, { err: null, replies: ['A:here', 'B:here', 'C:here'] });
  },

  async 'a broadcast with ack times out with the replies that came'(ctx) {
    const [a, b, c] = await threeClientsInRoom(await ctx.ownServer());
    for (const client of [a, b]) client.socket.on('roll-call', (data, ack) => ack(client.name));
    c.socket.on('roll-call', () => {});
    const result = await request(a.socket, 'ask-all', { event: 'roll-call', data: null, timeout: 300 });
    assert.deepEqual(result, { err: 'operation has timed out', replies: ['A', 'B'] });
  },

  // A volatile packet may be dropped when the transport cannot write at that
  // instant: over polling, when no GET is pending on the server. Right after a
  // heartbeat the client has polled again and the next ping is pingInterval
  // away, so nothing excuses a loss here.
  async 'a volatile event reaches a connected client'(ctx) {
    const { socket } = await ctx.connect('/');
    await once(socket.io.engine, 'ping', { timeoutMs: PING_INTERVAL + 1000 });
    const arrived = once(socket, 'fleeting');
    await request(socket, 'volatile', { event: 'fleeting', data: { n: 7 } });
    assert.deepEqual(await arrived, [{ n: 7 }]);
  },

  async 'disconnect-me ends the session with "io server disconnect"'(ctx) {
    const { socket } = await ctx.connect('/');
    const disconnected = once(socket, 'disconnect');
    socket.emit('disconnect-me');
    const [reason] = await disconnected;
    assert.equal(reason, 'io server disconnect');
    assert.equal(socket.connected, false);
  },

  async 'a client disconnect reports "io client disconnect"'(ctx) {
    const { socket } = await ctx.connect('/');
    const disconnected = once(socket, 'disconnect');
    socket.disconnect();
    const [reason] = await disconnected;
    assert.equal(reason, 'io client disconnect');
  },

  // Closing the Engine.IO connection is not a Socket.IO disconnect: the client
  // sees "transport close" and reconnects, as a new socket with a new id.
  async 'reconnects after the server closes the transport'(ctx) {
    const { socket, welcome } = await ctx.connect('/', { reconnection: true, reconnectionDelay: 50 });
    const firstId = socket.id;
    const disconnected = once(socket, 'disconnect');
    const reconnected = once(socket, 'connect', { timeoutMs: 5000 });
    const welcomedAgain = once(socket, 'welcome', { timeoutMs: 5000 });
    socket.emit('close-transport');
    const [reason] = await disconnected;
    assert.equal(reason, 'transport close');
    await reconnected;
    const [secondWelcome] = await welcomedAgain;
    assert.equal(typeof socket.id, 'string');
    assert.notEqual(socket.id, firstId);
    assert.deepEqual(secondWelcome, { ...welcome, id: socket.id });
    assert.equal(await socket.emitWithAck('echo', 'again'), 'again');
  },
};

defineSuite({
  title: 'socket.io-client 4.8',
  io,
  setups: [SETUPS.websocket, SETUPS.polling, SETUPS.upgrade],
  scenarios,
});
