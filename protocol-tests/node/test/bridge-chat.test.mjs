// Profile D, the Flask-SocketIO chat tutorial (bridge-profiles.md §4): every
// scenario of §4.4, over websocket and polling, with socket.io-client 4.8
// against `siobridge --profile /=chat --profile /chat=chat`, then again with
// socket.io-client 2.5 (Engine.IO v3, Socket.IO protocol v4) against the same
// bridge with `--allow-eio3`.
//
// Scenarios 1–8 run in order on one bridge per transport and share their
// sockets: A, B and C on `/`, Z on `/chat`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBridge } from '../lib/bridge.mjs';
import { SCENARIO_TIMEOUT_MS, TRANSPORTS, bridgeClients } from '../lib/bridge-clients.mjs';

const message = (text) => ['message', text];
const history = (room, messages) => [`newMessage/${room}`, { all_messages: messages }];

const CLIENTS = [
  { title: '', v2: false, args: [] },
  { title: ' with socket.io-client 2.5', v2: true, args: ['--allow-eio3'] },
];

for (const [kind, transport] of CLIENTS.flatMap((k) => TRANSPORTS.map((t) => [k, t]))) {
  describe(`chat${kind.title} over ${transport}`, () => {
    let bridge;
    let clients;
    let A, B, C, Z;
    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=chat', '--profile', '/chat=chat', ...kind.args] });
      clients = bridgeClients(bridge.url, transport, {}, { v2: kind.v2 });
      ({ A, B, C } = await clients.connect(['A', 'B', 'C']));
      ({ Z } = await clients.connect('Z', { nsp: '/chat' }));
    });
    after(async () => {
      clients?.close();
      await bridge?.stop();
    });
    const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, () => body());

    scenario('1. echo', async () => {
      A.emit('message', 'hi');
      await clients.expect({ A: [message('hi')] });
    });

    scenario('2. broadcast includes sender', async () => {
      A.emit('my event', { n: 1 });
      const response = ['my response', { n: 1 }];
      // Every socket of `/`, none of `/chat`.
      await clients.expect({ A: [response], B: [response], C: [response] });
    });

    scenario('3. join', async () => {
      A.emit('join', { username: 'ann', room: 'r' });
      await clients.expect({ A: [message('ann has entered the room.')] });
      B.emit('join', { username: 'bob', room: 'r' });
      await clients.expect({ A: [message('bob has entered the room.')], B: [message('bob has entered the room.')] });
    });

    scenario('4. leave', async () => {
      B.emit('leave', { username: 'bob', room: 'r' });
      await clients.expect({ A: [message('bob has left the room.')] });
    });

    scenario('5. history', async () => {
      A.emit('send_message', { room: 'r', content: 'm1' });
      await clients.expect({ A: [history('r', ['m1'])] });
      A.emit('send_message', { room: 'r', content: 'm2' });
      await clients.expect({ A: [history('r', ['m1', 'm2'])] });
    });

    scenario('6. namespace isolation', async () => {
      Z.emit('join', { username: 'zed', room: 'r' });
      Z.emit('send_message', { room: 'r', content: 'z1' });
      await clients.expect({ Z: [message('zed has entered the room.'), history('r', ['z1'])] });
    });

    scenario('7. disconnect', async () => {
      B.emit('join', { username: 'bob', room: 'r' });
      await clients.expect({ A: [message('bob has entered the room.')], B: [message('bob has entered the room.')] });
      B.disconnect();
      // No notice on disconnect.
      await clients.expect({});
      A.emit('send_message', { room: 'r', content: 'm3' });
      await clients.expect({ A: [history('r', ['m1', 'm2', 'm3'])] });
    });

    scenario('8. invalid', async () => {
      C.emit('join', { username: 'x' });
      C.emit('send_message', { content: 'x' });
      await clients.expect({});
      // C is heard when the room is there.
      C.emit('join', { username: 'cid', room: 'r' });
      await clients.expect({ A: [message('cid has entered the room.')], C: [message('cid has entered the room.')] });
    });

    scenario('9. unknown namespace', async () => {
      const error = await clients.connectError('/nope');
      assert.equal(error.message, 'Invalid namespace');
    });

    // Rules of §4.3 that no numbered scenario isolates.

    scenario('§4.3: a second join says "entered" again; a leave by a non-member still says "has left"', async () => {
      C.emit('join', { username: 'cid', room: 'r' });
      await clients.expect({ A: [message('cid has entered the room.')], C: [message('cid has entered the room.')] });
      C.emit('leave', { username: 'cid', room: 'r' });
      await clients.expect({ A: [message('cid has left the room.')] });
      C.emit('leave', { username: 'cid', room: 'r' });
      await clients.expect({ A: [message('cid has left the room.')] });
    });

    scenario('§4.3 [CHOICE]: a missing username is rendered as an empty string', async () => {
      Z.emit('join', { room: 'quiet' });
      await clients.expect({ Z: [message(' has entered the room.')] });
    });
  });
}
