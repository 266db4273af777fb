// The server side of the Socket.IO Admin UI (`@socket.io/admin-ui` 0.5):
// socket.io-client 4.8 plays the UI on namespace `/admin` of
// `siobridge --admin USER:PASSWORD`, as the UI's page does (its CONNECT
// payload, the events it listens to, the actions it emits), while other
// socket.io-clients are the users it watches.
//
// Run without SIOBRIDGE_BIN, the same file drives reference/bridge-server.mjs,
// where `/admin` is `instrument()` of the official package: that is where
// the expected events and payloads come from.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { runBridge, startBridge } from '../lib/bridge.mjs';
import { once } from '../lib/wait.mjs';

const USER = 'admin';
const PASSWORD = 's3cret-pw';
const TIMEOUT_MS = 5000;
// The reference emits server_stats every 2 s.
const STATS_TIMEOUT_MS = 4000;

/**
 * An admin connection that records every event it gets, so a test can wait
 * for one that matches without caring what came between.
 */
function admin(url, auth, { transport = 'websocket' } = {}) {
  const socket = io(`${url}/admin`, { auth, transports: [transport], reconnection: false, forceNew: true });
  const events = [];
  const waiters = [];
  socket.onAny((event, ...args) => {
    events.push({ event, args });
    for (const waiter of [...waiters]) waiter();
  });
  const waitFor = (event, pred = () => true, timeoutMs = TIMEOUT_MS) => new Promise((resolve, reject) => {
    const check = () => {
      const found = events.find((e) => e.event === event && pred(...e.args));
      if (!found) return false;
      waiters.splice(waiters.indexOf(check), 1);
      clearTimeout(timer);
      resolve(found.args);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(check), 1);
      const seen = events.map((e) => e.event).join(', ');
      reject(new Error(`no matching "${event}" within ${timeoutMs} ms (got: ${seen})`));
    }, timeoutMs);
    waiters.push(check);
    check();
  });
  return { socket, events, waitFor };
}

function user(url, nsp = '/', { transport = 'websocket' } = {}) {
  return io(`${url}${nsp}`, { transports: [transport], reconnection: false, forceNew: true });
}

/** `name`, or `<profile>:name` (siobridge's profiles prefix their rooms). */
const isRoom = (name) => (room) => room === name || room.endsWith(`:${name}`);

async function connected(socket) {
  if (!socket.connected) await once(socket, 'connect', { timeoutMs: TIMEOUT_MS });
  return socket;
}

describe('admin UI namespace', () => {
  let bridge;
  const sockets = [];
  const track = (s) => {
    sockets.push(s);
    return s;
  };
  before(async () => {
    bridge = await startBridge({
      args: ['--profile', '/=chat', '--profile', '/hub=hubtel', '--admin', `${USER}:${PASSWORD}`],
    });
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    await bridge?.stop();
  });

  test('wrong or missing credentials are refused with "invalid credentials"', async () => {
    for (const auth of [{ username: USER, password: 'nope' }, { username: 'root', password: PASSWORD }, {}, { sessionId: 'deadbeefdeadbeef' }]) {
      const { socket } = admin(bridge.url, auth);
      track(socket);
      const [error] = await once(socket, 'connect_error', { timeoutMs: TIMEOUT_MS });
      assert.equal(error.message, 'invalid credentials', JSON.stringify(auth));
      socket.disconnect();
    }
  });

  test('login: session, config, all_sockets with handshake and rooms; a session id logs in again', async () => {
    const alice = track(await connected(user(bridge.url, '/')));
    alice.emit('join', { username: 'alice', room: 'lobby' });
    await once(alice, 'message', { timeoutMs: TIMEOUT_MS });
    const hubUser = track(await connected(user(bridge.url, '/hub', { transport: 'polling' })));

    const a = admin(bridge.url, { username: USER, password: PASSWORD });
    track(a.socket);
    await connected(a.socket);
    const [sessionId] = await a.waitFor('session');
    assert.match(sessionId, /^\S{8,}$/);
    const [config] = await a.waitFor('config');
    for (const feature of ['JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'EMIT', 'AGGREGATED_EVENTS', 'ALL_EVENTS']) {
      assert.ok(config.supportedFeatures.includes(feature), feature);
    }
    const [all] = await a.waitFor('all_sockets');
    const mine = all.find((s) => s.id === alice.id);
    assert.ok(mine, 'alice is listed');
    assert.equal(mine.nsp, '/');
    // The chat profile's room, under whatever name the profile keeps it.
    assert.equal(mine.rooms.length, 2, JSON.stringify(mine.rooms));
    assert.ok(mine.rooms.includes(alice.id));
    assert.ok(mine.rooms.some(isRoom('lobby')), JSON.stringify(mine.rooms));
    assert.equal(mine.transport, 'websocket');
    assert.equal(mine.clientId, alice.io.engine.id.slice(0, 12));
    assert.deepEqual(mine.data, {});
    assert.equal(mine.handshake.address.replace(/^::ffff:/, ''), '127.0.0.1');
    assert.equal(mine.handshake.query.EIO, '4');
    assert.equal(mine.handshake.query.transport, 'websocket');
    assert.match(mine.handshake.url, /^\/socket\.io\/\?EIO=4&transport=websocket/);
    assert.equal(typeof mine.handshake.headers.host, 'string');
    assert.equal(typeof mine.handshake.issued, 'number');
    assert.equal(typeof mine.handshake.time, 'string');
    assert.equal(mine.handshake.secure, false);
    assert.equal(mine.handshake.auth, undefined, 'the CONNECT payload is not shown');
    const hub = all.find((s) => s.id === hubUser.id);
    assert.equal(hub?.nsp, '/hub');
    assert.equal(hub?.transport, 'polling');
    // The admin itself is a socket of /admin, its password not shown.
    const self = all.find((s) => s.id === a.socket.id);
    assert.equal(self?.nsp, '/admin');
    assert.ok(!JSON.stringify(all).includes(PASSWORD));

    // The UI reconnects with the session id instead of the password.
    const again = admin(bridge.url, { sessionId });
    track(again.socket);
    await connected(again.socket);
    await again.waitFor('config');
    assert.ok(!again.events.some((e) => e.event === 'session'), 'no new session for a session login');
    a.socket.disconnect();
    again.socket.disconnect();
  });

  test('server_stats: server, clients and namespaces', async () => {
    const u = track(await connected(user(bridge.url, '/', { transport: 'polling' })));
    const a = admin(bridge.url, { username: USER, password: PASSWORD });
    track(a.socket);
    await connected(a.socket);
    const [stats] = await a.waitFor('server_stats', (s) => s.clientsCount >= 2, STATS_TIMEOUT_MS);
    assert.equal(typeof stats.serverId, 'string');
    assert.equal(typeof stats.hostname, 'string');
    assert.equal(typeof stats.pid, 'number');
    assert.equal(typeof stats.uptime, 'number');
    assert.ok(stats.pollingClientsCount >= 1, JSON.stringify(stats));
    assert.ok(Array.isArray(stats.aggregatedEvents));
    const names = stats.namespaces.map((n) => n.name);
    for (const ns of ['/', '/hub', '/admin']) assert.ok(names.includes(ns), `${ns} in ${names}`);
    assert.ok(stats.namespaces.find((n) => n.name === '/').socketsCount >= 1);
    assert.ok(stats.namespaces.find((n) => n.name === '/admin').socketsCount >= 1);
    u.disconnect();
    a.socket.disconnect();
  });

  test('live events and actions: connect, join, _join/_leave by id, emit, _disconnect', async () => {
    const a = admin(bridge.url, { username: USER, password: PASSWORD });
    track(a.socket);
    await connected(a.socket);
    await a.waitFor('all_sockets');

    // A new socket: its own room, then socket_connected with its details.
    const bob = track(await connected(user(bridge.url, '/')));
    await a.waitFor('room_joined', (nsp, room, id) => nsp === '/' && room === bob.id && id === bob.id);
    const [serialized, when] = await a.waitFor('socket_connected', (s) => s.id === bob.id);
    assert.equal(serialized.nsp, '/');
    assert.deepEqual(serialized.rooms, [bob.id]);
    assert.ok(!Number.isNaN(Date.parse(when)), when);

    // A join made by the application (the chat profile's `join`).
    bob.emit('join', { username: 'bob', room: 'kitchen' });
    const [, , , joinedAt] = await a.waitFor('room_joined', (nsp, room, id) => nsp === '/' && isRoom('kitchen')(room) && id === bob.id);
    assert.ok(!Number.isNaN(Date.parse(joinedAt)));

    // The UI's "join a room" on one socket, then an emit to that room.
    a.socket.emit('join', '/', 'vip', bob.id);
    await a.waitFor('room_joined', (nsp, room, id) => nsp === '/' && room === 'vip' && id === bob.id);
    const greeting = once(bob, 'hello', { timeoutMs: TIMEOUT_MS });
    a.socket.emit('emit', '/', 'vip', 'hello', { from: 'admin' });
    assert.deepEqual(await greeting, [{ from: 'admin' }]);

    // All sockets of a room join another (MJOIN), and leave it (MLEAVE).
    a.socket.emit('join', '/', 'everyone-in-vip', 'vip');
    await a.waitFor('room_joined', (nsp, room, id) => room === 'everyone-in-vip' && id === bob.id);
    a.socket.emit('leave', '/', 'everyone-in-vip', 'vip');
    await a.waitFor('room_left', (nsp, room, id) => nsp === '/' && room === 'everyone-in-vip' && id === bob.id);
    a.socket.emit('leave', '/', 'vip', bob.id);
    await a.waitFor('room_left', (nsp, room, id) => room === 'vip' && id === bob.id);

    // The UI's "disconnect": the client is told by the server.
    const bobId = bob.id;
    const reason = once(bob, 'disconnect', { timeoutMs: TIMEOUT_MS });
    a.socket.emit('_disconnect', '/', false, bob.id);
    assert.equal((await reason)[0], 'io server disconnect');
    const [nsp, id, why, at] = await a.waitFor('socket_disconnected', (n, i) => i === bobId);
    assert.equal(nsp, '/');
    assert.equal(id, bobId);
    assert.equal(why, 'server namespace disconnect');
    assert.ok(!Number.isNaN(Date.parse(at)));
    await a.waitFor('room_left', (n, room, i) => isRoom('kitchen')(room) && i === bobId);
    a.socket.disconnect();
  });

  test('an upgrade from polling to websocket is reported as socket_updated', async () => {
    const a = admin(bridge.url, { username: USER, password: PASSWORD });
    track(a.socket);
    await connected(a.socket);
    await a.waitFor('all_sockets');
    const dave = track(io(`${bridge.url}/`, { transports: ['polling', 'websocket'], reconnection: false, forceNew: true }));
    await connected(dave);
    const [serialized] = await a.waitFor('socket_connected', (s) => s.id === dave.id);
    assert.equal(serialized.transport, 'polling');
    const [update] = await a.waitFor('socket_updated', (u) => u.id === dave.id && u.transport !== undefined);
    assert.deepEqual(update, { id: dave.id, nsp: '/', transport: 'websocket' });
    dave.disconnect();
    a.socket.disconnect();
  });

  test('the event log: event_received and event_sent for one socket, none for /admin', async () => {
    const a = admin(bridge.url, { username: USER, password: PASSWORD });
    track(a.socket);
    await connected(a.socket);
    await a.waitFor('all_sockets');
    const erin = track(await connected(user(bridge.url, '/')));
    const echoed = once(erin, 'message', { timeoutMs: TIMEOUT_MS });
    erin.emit('message', { text: 'hi' });
    await echoed;
    const [nsp, id, args, at] = await a.waitFor('event_received', (n, i) => i === erin.id);
    assert.deepEqual([nsp, id, args], ['/', erin.id, ['message', { text: 'hi' }]]);
    assert.ok(!Number.isNaN(Date.parse(at)));
    // The chat profile echoes with socket.emit.
    const [sentNsp, , sentArgs] = await a.waitFor('event_sent', (n, i) => i === erin.id);
    assert.equal(sentNsp, '/');
    assert.deepEqual(sentArgs, ['message', { text: 'hi' }]);
    // The admin's own actions are not logged.
    a.socket.emit('join', '/', 'logged', erin.id);
    await a.waitFor('room_joined', (n, room) => room === 'logged');
    assert.ok(!a.events.some((e) => (e.event === 'event_received' || e.event === 'event_sent') && e.args[0] === '/admin'));
    a.socket.disconnect();
  });

  test('a client that leaves by itself is reported with its reason', async () => {
    const a = admin(bridge.url, { username: USER, password: PASSWORD });
    track(a.socket);
    await connected(a.socket);
    const carol = track(await connected(user(bridge.url, '/hub')));
    await a.waitFor('socket_connected', (s) => s.id === carol.id);
    const id = carol.id;
    carol.disconnect();
    const [nsp, , why] = await a.waitFor('socket_disconnected', (n, i) => i === id);
    assert.equal(nsp, '/hub');
    assert.equal(why, 'client namespace disconnect');
    a.socket.disconnect();
  });
});

describe('admin UI flags', () => {
  test('bad --admin values and a --admin-ui-dir without the UI exit with status 2', async () => {
    for (const args of [['--admin', 'nocolon'], ['--admin', ':pw'], ['--admin', 'user:'], ['--admin', 'a:b', '--admin-ui-dir', '/nonexistent-admin-ui']]) {
      const { code, stderr } = await runBridge({ args: ['--listen', '127.0.0.1:0', ...args] });
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /admin/, stderr);
    }
  });
});

describe('admin UI off', () => {
  test('without --admin, /admin is an invalid namespace', async () => {
    const bridge = await startBridge({ args: ['--profile', '/=chat'] });
    try {
      const { socket } = admin(bridge.url, { username: USER, password: PASSWORD });
      const [error] = await once(socket, 'connect_error', { timeoutMs: TIMEOUT_MS });
      assert.equal(error.message, 'Invalid namespace');
      socket.disconnect();
      const page = await fetch(`${bridge.url}/admin/`);
      assert.equal(page.status, 404);
    } finally {
      await bridge.stop();
    }
  });
});
