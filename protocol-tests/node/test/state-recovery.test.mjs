// Connection state recovery (socket.io 4.6+) with the official clients, the
// test app started with SIOBRIDGE_STATE_RECOVERY: socket.io-client 4.8 over
// websocket, polling and polling upgraded to websocket, the same with the
// msgpack parser, socket.io-client 4.7 (the scenarios are in
// lib/recovery-scenarios.mjs), and socket.io-client 4.5, which predates
// recovery, still working unchanged.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { io as io48 } from 'socket.io-client';
import { io as io47 } from 'socket.io-client-4.7';
import { io as io45 } from 'socket.io-client-4.5';
import { blip, defineRecoverySuite, fence, onReference, rig } from '../lib/recovery-scenarios.mjs';
import { ACK_TIMEOUT_MS, SETUPS, request } from '../lib/sio-scenarios.mjs';
import { collect, once } from '../lib/wait.mjs';

defineRecoverySuite({
  title: 'socket.io-client 4.8 recovers',
  client: 'socket.io-client 4.8 (Node)',
  suite: 'state-recovery-4.8-node',
  io: io48,
});

defineRecoverySuite({
  title: 'socket.io-client 4.7 recovers',
  client: 'socket.io-client 4.7 (Node)',
  suite: 'state-recovery-4.7-node',
  io: io47,
});

// The msgpack parser: the offset is one more element of the packet's data,
// MessagePack-encoded as the rest; every client (the helpers too) uses it.
const msgpackParser = createRequire(import.meta.url)('socket.io-msgpack-parser');
const msgpack = (url, options) => io48(url, { ...options, parser: msgpackParser });
defineRecoverySuite({
  title: 'socket.io-client 4.8 + msgpack recovers',
  client: 'socket.io-client 4.8 + msgpack (Node)',
  suite: 'state-recovery-4.8-msgpack-node',
  io: msgpack,
  helperIo: msgpack,
  env: { SIOBRIDGE_PARSER: 'msgpack' },
});

// socket.io-client 4.5 has no emitWithAck.
const ack = (socket, event, ...args) => new Promise((resolve, reject) => {
  socket.timeout(ACK_TIMEOUT_MS).emit(event, ...args, (error, reply) => (error ? reject(error) : resolve(reply)));
});

// socket.io-client 4.5 knows nothing of pid and offsets: it connects,
// exchanges events and acknowledgements, sees the offset the server appends
// to an event as one more argument, and after a blip reconnects as a new
// socket.
for (const setup of [SETUPS.websocket, SETUPS.polling]) {
  describe(`socket.io-client 4.5 (no recovery support) over ${setup.name}`, () => {
    test('works unchanged against a server with recovery on, and reconnects as a new socket', { timeout: 25_000 }, async (t) => {
      const world = await rig(t, { io: io45, setup });
      const helper = await world.helper();
      const roamer = await world.roamer();
      const { socket } = roamer;
      assert.equal(socket.recovered, undefined);
      assert.deepEqual(await ack(socket, 'echo', { n: 1 }), { n: 1 });
      assert.equal(await ack(socket, 'join', 'in'), 'in');
      const echoed = once(socket, 'echo');
      socket.emit('echo', 'a', 2);
      const args = await echoed;
      assert.equal(args.length, 3, `the echo's arguments and the server's offset: ${JSON.stringify(args)}`);
      assert.deepEqual(args.slice(0, 2), ['a', 2]);
      assert.equal(typeof args[2], 'string');
      const id = socket.id;
      await blip(world, helper);
      await request(helper, 'to-room', { room: 'in', event: 'missed', data: 'while away' });
      await world.reconnect(roamer);
      assert.notEqual(socket.id, id);
      assert.deepEqual(await ack(socket, 'rooms'), [socket.id]);
      await fence(helper, roamer);
      assert.deepEqual(roamer.log.of('missed'), []);
    });
  });
}

// siobridge keeps at most RecoveryConfig::max_packets (10,000 by default)
// packets per namespace; past that the oldest go, and a session whose missed
// packets went with them is not recovered (docs/limits.md). The reference
// keeps every packet of the window.
describe('siobridge bounds the packets kept for recovery', () => {
  const KEPT = 10_000;
  test('a client whose missed packet was pushed out by 10,000 newer ones gets a new session', {
    timeout: 60_000,
    skip: onReference && 'siobridge only: the reference keeps every packet of the window',
  }, async (t) => {
    const setup = SETUPS.websocket;
    const world = await rig(t, { io: io48, setup });
    const helper = await world.helper();
    const roamer = await world.roamer();
    const id = roamer.socket.id;
    await blip(world, helper);
    await request(helper, 'to-all', { event: 'missed', data: 'pushed out' });
    // Each echo is a packet the server logs (socket.emit back to the
    // helper); sent in batches, each awaited, not to flood either side.
    const BATCH = 250;
    for (let sent = 0; sent < KEPT; sent += BATCH) {
      const batch = collect(helper, 'echo', BATCH, { timeoutMs: 10_000 });
      for (let i = 0; i < BATCH; i++) helper.emit('echo', sent + i);
      await batch;
    }
    await world.reconnect(roamer);
    assert.equal(roamer.socket.recovered, false);
    assert.notEqual(roamer.socket.id, id);
    await fence(helper, roamer);
    assert.deepEqual(roamer.log.of('missed'), []);
  });
});
