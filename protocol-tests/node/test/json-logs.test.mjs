// The binary's logs (--log-format json, SIOBRIDGE_LOG=debug): every line is
// one JSON object with time, level, event and message, plus the event's
// fields; every socket that leaves is logged with its Socket.IO reason, and
// every session that ends with its Engine.IO reason. Without the flag the
// lines stay `siobridge LEVEL message`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { eventually } from '../lib/hostile.mjs';
import { once } from '../lib/wait.mjs';

const CONNECT_TIMEOUT_MS = 5000;
const ONLY_SIOBRIDGE = { skip: !process.env.SIOBRIDGE_BIN && 'the reference bridge has no --log-format' };

function client(url, options = {}) {
  return io(url, { reconnection: false, forceNew: true, ...options });
}

describe('--log-format json', ONLY_SIOBRIDGE, () => {
  let bridge;
  before(async () => {
    bridge = await startBridge({
      args: ['--log-format', 'json', '--profile', '/=digital-auto', '--profile', '/chat=chat', '--event-rate', '5/5'],
      env: { SIOBRIDGE_LOG: 'debug' },
    });
  });
  after(() => bridge?.stop());

  const entries = () => bridge.stderrLines().map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      assert.fail(`not a JSON line: ${line}`);
    }
  });
  const find = (what, predicate) => eventually(() => entries().find(predicate), { what });

  test('every line is a JSON object with time, level, event and message', async () => {
    const mounted = await find('the mount lines', (e) => e.event === 'mount' && e.namespace === '/chat');
    assert.equal(mounted.profile, 'chat');
    for (const entry of entries()) {
      assert.equal(typeof entry, 'object');
      assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(Math.abs(Date.parse(entry.time) - Date.now()) < 60_000, entry.time);
      assert.ok(['error', 'warn', 'info', 'debug'].includes(entry.level), entry.level);
      assert.equal(typeof entry.event, 'string');
      assert.equal(typeof entry.message, 'string');
    }
  });

  for (const transport of ['polling', 'websocket']) {
    test(`over ${transport}: connect, then disconnect with its Socket.IO reason and the session's close`, async (t) => {
      const socket = client(`${bridge.url}/chat`, { transports: [transport] });
      t.after(() => socket.close());
      await once(socket, 'connect', { timeoutMs: CONNECT_TIMEOUT_MS });
      const id = socket.id;
      const sid = socket.io.engine.id;
      const open = await find('session_open', (e) => e.event === 'session_open' && e.sid === sid);
      assert.deepEqual({ level: open.level, address: open.address, transport: open.transport },
        { level: 'debug', address: '127.0.0.1', transport });
      const connect = await find('connect', (e) => e.event === 'connect' && e.socket === id);
      assert.deepEqual({ namespace: connect.namespace, address: connect.address }, { namespace: '/chat', address: '127.0.0.1' });

      socket.disconnect();
      const left = await find('disconnect', (e) => e.event === 'disconnect' && e.socket === id);
      assert.deepEqual({ level: left.level, namespace: left.namespace, address: left.address, reason: left.reason },
        { level: 'debug', namespace: '/chat', address: '127.0.0.1', reason: 'client namespace disconnect' });
      const closed = await find('session_close', (e) => e.event === 'session_close' && e.sid === sid);
      assert.equal(typeof closed.reason, 'string');
      assert.equal(closed.address, '127.0.0.1');
    });
  }

  test('a socket dropped by the server is logged with the reason, not only the session close', async (t) => {
    const socket = client(bridge.url, { transports: ['websocket'] });
    t.after(() => socket.close());
    await once(socket, 'connect', { timeoutMs: CONNECT_TIMEOUT_MS });
    const id = socket.id;
    const disconnected = once(socket, 'disconnect', { timeoutMs: CONNECT_TIMEOUT_MS });
    for (let i = 0; i < 50; i++) socket.emit('register_provider', { provider_id: `P${i}`, name: 'flood' });
    await disconnected;
    const left = await find('the rate-limited disconnect', (e) => e.event === 'disconnect' && e.socket === id);
    assert.equal(left.reason, 'rate limited');
    assert.equal(left.namespace, '/');
  });

  test('a client that goes away: transport close', async () => {
    const socket = client(bridge.url, { transports: ['websocket'] });
    await once(socket, 'connect', { timeoutMs: CONNECT_TIMEOUT_MS });
    const id = socket.id;
    socket.io.engine.close();
    const left = await find('the disconnect', (e) => e.event === 'disconnect' && e.socket === id);
    assert.equal(left.reason, 'transport close');
    socket.close();
  });
});

describe('the default text format', ONLY_SIOBRIDGE, () => {
  let bridge;
  before(async () => {
    bridge = await startBridge({ env: { SIOBRIDGE_LOG: 'debug' } });
  });
  after(() => bridge?.stop());

  test('lines are `siobridge LEVEL message`, disconnects with their reason', async (t) => {
    const socket = client(bridge.url, { transports: ['websocket'] });
    t.after(() => socket.close());
    await once(socket, 'connect', { timeoutMs: CONNECT_TIMEOUT_MS });
    const id = socket.id;
    socket.disconnect();
    await eventually(() => bridge.stderrLines().includes(`siobridge DEBUG socket ${id} disconnected from /: client namespace disconnect`),
      { what: 'the disconnect line' });
    for (const line of bridge.stderrLines()) assert.match(line, /^siobridge (ERROR|WARN|INFO|DEBUG) /);
  });
});
