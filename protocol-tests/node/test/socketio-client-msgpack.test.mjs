// socket.io-client 4.8 with the msgpack parser (socket.io-msgpack-parser 3.0)
// against the test app started with SIOBRIDGE_PARSER=msgpack (siobridge's
// `socketio::Parser::Msgpack`; the reference test app takes the same
// variable and passes the package as the server's `parser` option), over
// websocket, polling and polling upgraded to websocket: the core scenarios
// (connect with auth, auth errors, acks both ways, binary, broadcast,
// volatile, disconnects, reconnection) plus rooms, binary events from the
// server, and what the wire looks like (every packet one binary message).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { io as connect } from 'socket.io-client';
import {
  SETUPS, bytes, coreScenarios, defineSuite, expectDelivery, mergeScenarios, request, threeClientsInRoom,
} from '../lib/sio-scenarios.mjs';
import { once } from '../lib/wait.mjs';

const parser = createRequire(import.meta.url)('socket.io-msgpack-parser');
const io = (url, options) => connect(url, { ...options, parser });

const scenarios = mergeScenarios(coreScenarios, {
  'connect-auth': {
    async 'an unknown namespace is refused with "Invalid namespace"'(ctx) {
      const error = await ctx.connectError('/nope');
      assert.equal(error.message, 'Invalid namespace');
    },
  },

  binary: {
    async 'the server sends binary in events, as Buffers'(ctx) {
      const { socket } = await ctx.connect('/');
      const args = [bytes(300, 5), { inner: [bytes(0), bytes(70_000, 6)] }, 'text'];
      const echoed = once(socket, 'echo');
      socket.emit('echo', ...args);
      const got = await echoed;
      assert.deepEqual(got, args);
      assert.ok(Buffer.isBuffer(got[0]));
    },

    async 'every packet travels as one binary Engine.IO message'(ctx) {
      const { socket } = await ctx.connect('/');
      const engine = socket.io.engine;
      const seen = [];
      const record = (data) => seen.push(typeof data === 'string' ? 'text' : 'binary');
      engine.on('data', record);
      assert.deepEqual(await socket.emitWithAck('echo', { b: bytes(4) }), { b: bytes(4) });
      assert.equal(await socket.emitWithAck('echo', 'plain'), 'plain');
      engine.off('data', record);
      assert.deepEqual(seen, ['binary', 'binary']);
    },
  },

  // Rooms are in the matrix's broadcast column.
  broadcast: {
    async 'to(room) reaches the room members only, once each'(ctx) {
      const clients = await threeClientsInRoom(ctx);
      const [a, b] = clients;
      await expectDelivery(clients, [a, b], 'room-news', { n: 1 }, () =>
        request(a.socket, 'to-room', { room: 'r1', event: 'room-news', data: { n: 1 } }));
    },

    async 'socket.to(room) skips the sender; leave takes a member out'(ctx) {
      const clients = await threeClientsInRoom(ctx);
      const [a, b] = clients;
      await expectDelivery(clients, [b], 'from-a', 'hi', () =>
        request(a.socket, 'to-room-from-me', { room: 'r1', event: 'from-a', data: 'hi' }));
      assert.equal(await request(b.socket, 'leave', 'r1'), 'r1');
      await expectDelivery(clients, [a], 'after-leave', 2, () =>
        request(a.socket, 'to-room', { room: 'r1', event: 'after-leave', data: 2 }));
    },
  },
});

defineSuite({
  title: 'socket.io-client 4.8 with socket.io-msgpack-parser',
  client: 'socket.io-client 4.8 + msgpack (Node)',
  suite: 'socketio-client-msgpack-node',
  io,
  setups: [SETUPS.websocket, SETUPS.polling, SETUPS.upgrade],
  scenarios,
  env: { SIOBRIDGE_PARSER: 'msgpack' },
});
