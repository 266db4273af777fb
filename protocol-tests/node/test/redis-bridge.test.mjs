// The bridge profiles on two siobridge binaries sharing one Redis
// (`--redis`): what already crosses nodes, because the profiles broadcast
// through the ordinary operators. Their own state (chat history, hubtel
// presence, digital-auto's registry, directual's sessions) is still per node
// (docs/cluster.md, "Next slices"), so only broadcasts are checked here.
// siobridge only: the reference bridge server has no Redis adapter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { startRedis, waitForServers } from '../lib/redis.mjs';
import { expectNoEvent, once } from '../lib/wait.mjs';

describe('chat across two siobridge nodes', { skip: !process.env.SIOBRIDGE_BIN && 'siobridge only (SIOBRIDGE_BIN unset): the reference bridge has no Redis adapter' }, () => {
  let redis;
  const nodes = [];
  const clients = {};

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i += 1) {
      nodes.push(await startBridge({ args: ['--redis', redis.url, '--profile', '/=chat'] }));
    }
    await waitForServers(redis, 2);
    for (const [name, node] of [['ann', nodes[0]], ['bob', nodes[1]], ['cid', nodes[1]]]) {
      clients[name] = connect(node.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
      await once(clients[name], 'connect');
    }
  });

  after(async () => {
    for (const client of Object.values(clients)) client.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  const next = (name, event) => once(clients[name], event, { timeoutMs: 2000 }).then(([value]) => value);

  test('my event reaches every socket of the namespace on both nodes (D-e2)', async () => {
    const got = ['ann', 'bob', 'cid'].map((name) => next(name, 'my response'));
    clients.ann.emit('my event', { n: 1 });
    assert.deepEqual(await Promise.all(got), [{ n: 1 }, { n: 1 }, { n: 1 }]);
  });

  test('room announcements reach the members on the other node (D-e3, D-e4)', async () => {
    let got = next('ann', 'message');
    clients.ann.emit('join', { username: 'ann', room: 'r' });
    assert.equal(await got, 'ann has entered the room.');
    got = [next('ann', 'message'), next('bob', 'message'), expectNoEvent(clients.cid, 'message', 400)];
    clients.bob.emit('join', { username: 'bob', room: 'r' });
    assert.deepEqual(await Promise.all(got), ['bob has entered the room.', 'bob has entered the room.', undefined]);
    got = [next('ann', 'message'), expectNoEvent(clients.bob, 'message', 400)];
    clients.bob.emit('leave', { username: 'bob', room: 'r' });
    assert.deepEqual(await Promise.all(got), ['bob has left the room.', undefined]);
  });

  test('a room history is the same from both nodes (D-e5)', async () => {
    for (const name of ['bob', 'cid']) {
      const joined = next(name, 'message');
      clients[name].emit('join', { username: name, room: 'h' });
      await joined;
    }
    let got = [next('bob', 'newMessage/h'), next('cid', 'newMessage/h')];
    clients.bob.emit('send_message', { room: 'h', content: 'm1' });
    assert.deepEqual(await Promise.all(got), [{ all_messages: ['m1'] }, { all_messages: ['m1'] }]);
    const joined = next('ann', 'message');
    clients.ann.emit('join', { username: 'ann', room: 'h' });
    await joined;
    got = [next('ann', 'newMessage/h'), next('bob', 'newMessage/h')];
    clients.ann.emit('send_message', { room: 'h', content: 'm2' });
    assert.deepEqual(await Promise.all(got), [{ all_messages: ['m1', 'm2'] }, { all_messages: ['m1', 'm2'] }]);
  });
});
