// The official socket.io-client 4.8 against the test app (README.md, "The
// test-app contract") over websocket only, polling only, and polling upgraded
// to websocket: namespaces and their errors, events and acknowledgements both
// ways, binary, rooms and broadcasts, volatile events, disconnection and
// reconnection. The core scenarios come from lib/sio-scenarios.mjs; the ones
// here are the 4.8 suite's own, grouped by matrix feature.
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import {
  JSON_ARGS, SETUPS, bytes, coreScenarios, defineSuite, expectDelivery, mergeScenarios, request, threeClientsInRoom,
} from '../lib/sio-scenarios.mjs';
import { collect, once } from '../lib/wait.mjs';

const scenarios = mergeScenarios(coreScenarios, {
  'connect-auth': {
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
  },

  'emit-ack': {
    async 'echoes an event with several arguments as an event'(ctx) {
      for (const nsp of ['/', '/custom']) {
        const { socket } = await ctx.connect(nsp);
        const echoed = once(socket, 'echo');
        socket.emit('echo', ...JSON_ARGS);
        assert.deepEqual(await echoed, JSON_ARGS);
      }
    },

    async 'an async handler that awaits does not hold up the events sent after it'(ctx) {
      const { socket } = await ctx.connect('/');
      const answers = [];
      const later = socket.emitWithAck('later', { ms: 300, value: 'late' }).then((v) => answers.push(v));
      const echo = socket.emitWithAck('echo', 'now').then((v) => answers.push(v));
      await Promise.all([later, echo]);
      assert.deepEqual(answers, ['now', 'late']);
    },

    async 'typed arguments: well-typed ones reach the handler, others get an error ack'(ctx) {
      const { socket } = await ctx.connect('/');
      assert.deepEqual(await socket.emitWithAck('order', 'tea', 2), { item: 'tea', quantity: 2 });
      for (const bad of [['tea', 'two'], [3, 2], ['tea', -1], ['tea']]) {
        const answer = await socket.emitWithAck('order', ...bad);
        assert.equal(typeof answer.error, 'string', JSON.stringify(bad));
        assert.deepEqual(Object.keys(answer), ['error']);
      }
    },

    async 'keeps 200 events in order'(ctx) {
      const { socket } = await ctx.connect('/');
      const sent = Array.from({ length: 200 }, (_, i) => i);
      const echoes = collect(socket, 'echo', sent.length);
      for (const i of sent) socket.emit('echo', i);
      assert.deepEqual(await echoes, sent);
    },
  },

  binary: {
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
  },

  broadcast: {
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
  },
});

defineSuite({
  title: 'socket.io-client 4.8',
  client: 'socket.io-client 4.8 (Node)',
  suite: 'socketio-client-4.8-node',
  io,
  setups: [SETUPS.websocket, SETUPS.polling, SETUPS.upgrade],
  scenarios,
});
