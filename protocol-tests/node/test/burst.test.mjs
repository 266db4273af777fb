// Bursts to a client that keeps reading (issue: "a client that keeps
// reading is never a slow consumer"). A polling client takes its packets only
// when its next GET arrives, so a burst queues up between two GETs; the
// reference delivers it whole, and so must siobridge: what bounds a client's
// queue is bytes and progress, never a count of packets.
//
// - The test app: one socket.io-client 4.8 receiver (polling only, websocket
//   only) gets 20,000 events that 200 other sockets send it at once through
//   `to-room` (the receiver's own room): all of them, each sender's in order,
//   and the receiver is never disconnected.
// - The bridge (digital-auto): a provider over polling answers 5,000
//   `request_provider` sent at once by 100 clients; each client gets exactly
//   its own 50 replies, in order.
//
// Run without SIOBRIDGE_TESTAPP / SIOBRIDGE_BIN, the same tests run against
// the Node reference servers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { startServer } from '../lib/server.mjs';
import { once } from '../lib/wait.mjs';

const SENDERS = 200;
const PER_SENDER = 100;
const CLIENTS = 100;
const PER_CLIENT = 50;
// Upper bound for a whole burst to arrive on a loaded two-core machine.
const DELIVERY_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 150_000;

function connect(url, transport, options = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, transports: [transport], ...options });
  return once(socket, 'connect', { timeoutMs: 20_000 }).then(() => socket);
}

/** Resolves once `count` events `event` have arrived, with their arguments. */
function gather(socket, event, count, what) {
  const seen = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${what}: ${seen.length} of ${count} "${event}" within ${DELIVERY_TIMEOUT_MS} ms`));
    }, DELIVERY_TIMEOUT_MS);
    socket.on(event, (payload) => {
      seen.push(payload);
      if (seen.length === count) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    socket.on('disconnect', (reason) => {
      clearTimeout(timer);
      reject(new Error(`${what}: disconnected (${reason}) after ${seen.length} of ${count} "${event}"`));
    });
  });
}

/** Asserts that each key's values arrived as 0, 1, 2, ... `per` - 1. */
function assertInOrderPerKey(payloads, key, value, keys, per) {
  const byKey = new Map();
  for (const payload of payloads) {
    const list = byKey.get(payload[key]) ?? [];
    list.push(payload[value]);
    byKey.set(payload[key], list);
  }
  assert.equal(byKey.size, keys, `${byKey.size} distinct ${key}s`);
  const expected = Array.from({ length: per }, (_, i) => i);
  for (const [k, list] of byKey) assert.deepEqual(list, expected, `${key} ${k}`);
}

describe('a burst to one client', () => {
  let server;
  before(async () => {
    // The reference's default heartbeat (the test app's 300 ms would time
    // out 200 clients busy in one Node process, on any server).
    server = await startServer({
      app: 'testapp',
      env: { TESTAPP_PING_INTERVAL_MS: '25000', TESTAPP_PING_TIMEOUT_MS: '20000' },
    });
  });
  after(() => server?.stop());

  for (const transport of ['polling', 'websocket']) {
    test(`${SENDERS} sockets x ${PER_SENDER} events reach one ${transport} client, all, in order`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const receiver = await connect(server.url, transport);
      const senders = [];
      try {
        for (let i = 0; i < SENDERS; i += 20) {
          const batch = Array.from({ length: Math.min(20, SENDERS - i) }, () => connect(server.url, 'websocket'));
          senders.push(...(await Promise.all(batch)));
        }
        const arrived = gather(receiver, 'burst', SENDERS * PER_SENDER, `the ${transport} receiver`);
        // Every sender sends its whole share in one go.
        senders.forEach((sender, from) => {
          for (let n = 0; n < PER_SENDER; n++) {
            sender.emit('to-room', { room: receiver.id, event: 'burst', data: { from, n } }, () => {});
          }
        });
        const payloads = await arrived;
        assertInOrderPerKey(payloads, 'from', 'n', SENDERS, PER_SENDER);
        assert.equal(receiver.connected, true);
        // Still served after the burst.
        assert.deepEqual(await receiver.timeout(10_000).emitWithAck('echo', 'after'), 'after');
      } finally {
        receiver.disconnect();
        for (const sender of senders) sender.disconnect();
      }
    });
  }
});

describe('the bridge: a polling provider answers a burst of requests', () => {
  let bridge;
  before(async () => {
    bridge = await startBridge({ args: ['--profile', '/=digital-auto'] });
  });
  after(() => bridge?.stop());

  test(`${CLIENTS} clients x ${PER_CLIENT} requests at once: every client gets exactly its replies, in order`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const provider = await connect(bridge.url, 'polling');
    const clients = [];
    try {
      provider.on('new_request', (request) => {
        if (request.cmd === 'double') provider.emit('provider_reply', { ...request, result: request.data.n * 2 });
      });
      provider.emit('register_provider', { provider_id: 'burst-provider', name: 'Burst' });
      for (let i = 0; i < CLIENTS; i += 20) {
        const batch = Array.from({ length: Math.min(20, CLIENTS - i) }, (_, j) => (
          connect(bridge.url, (i + j) % 2 === 0 ? 'websocket' : 'polling')
        ));
        clients.push(...(await Promise.all(batch)));
      }
      // The provider's registration was sent before the clients connected;
      // a round trip on the provider's connection confirms it was handled.
      const ready = once(provider, 'new_request', { timeoutMs: 20_000 });
      clients[0].emit('request_provider', { to_provider_id: 'burst-provider', cmd: 'warm-up', data: { n: -1 } });
      await ready;
      const replies = clients.map((client, c) => gather(client, 'provider_reply', PER_CLIENT, `client ${c}`));
      clients.forEach((client, c) => {
        for (let n = 0; n < PER_CLIENT; n++) {
          client.emit('request_provider', { to_provider_id: 'burst-provider', cmd: 'double', data: { c, n } });
        }
      });
      const received = await Promise.all(replies);
      received.forEach((list, c) => {
        const own = list;
        assert.ok(own.every((reply) => reply.request_from === clients[c].id && reply.data.c === c), `client ${c} got another's reply`);
        assert.deepEqual(own.map((reply) => reply.data.n), Array.from({ length: PER_CLIENT }, (_, n) => n), `client ${c}`);
        assert.deepEqual(own.map((reply) => reply.result), Array.from({ length: PER_CLIENT }, (_, n) => 2 * n));
      });
      assert.equal(provider.connected, true);
    } finally {
      provider.disconnect();
      for (const client of clients) client.disconnect();
    }
  });
});
