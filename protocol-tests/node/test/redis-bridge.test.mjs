// The bridge profiles on two siobridge binaries sharing one Redis
// (`--redis`): their broadcasts cross nodes through the ordinary operators,
// and their state is in Redis (docs/cluster.md, the bridge-profiles bullet):
// chat's histories, hubtel's presence counts, digital-auto's registry
// (directual's sessions are still per node).
// siobridge only: the reference bridge server has no Redis adapter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { SCENARIO_TIMEOUT_MS, bridgeClients } from '../lib/bridge-clients.mjs';
import { startRedis, waitForServers } from '../lib/redis.mjs';
import { expectNoEvent, once } from '../lib/wait.mjs';

const SIOBRIDGE_ONLY = !process.env.SIOBRIDGE_BIN && 'siobridge only (SIOBRIDGE_BIN unset): the reference bridge has no Redis adapter';

/**
 * Two siobridge nodes serving `profile` on `/` over one fresh Redis, each
 * with its named clients (lib/bridge-clients.mjs, over websocket);
 * `expect({ NAME: events })` checks the clients of both nodes at once.
 */
function twoNodes(profile) {
  const state = { redis: null, nodes: [], groups: [] };
  before(async () => {
    state.redis = await startRedis();
    for (let i = 0; i < 2; i += 1) {
      state.nodes.push(await startBridge({ args: ['--redis', state.redis.url, '--profile', `/=${profile}`] }));
    }
    await waitForServers(state.redis, 2);
    state.groups = state.nodes.map((node) => bridgeClients(node.url, 'websocket'));
  });
  after(async () => {
    for (const group of state.groups) group.close();
    await Promise.all(state.nodes.map((n) => n.stop()));
    await state.redis?.stop();
  });
  return {
    state,
    /** Connects `names` on node `i` (0 or 1). */
    connect: (i, names) => state.groups[i].connect(names),
    /** `expected` names clients of either node; the others must get nothing. */
    async expect(expected) {
      const byGroup = state.groups.map(() => ({}));
      for (const [name, events] of Object.entries(expected)) {
        byGroup[state.home[name]][name] = events;
      }
      await Promise.all(state.groups.map((group, i) => group.expect(byGroup[i])));
    },
  };
}

describe('chat across two siobridge nodes', { skip: SIOBRIDGE_ONLY }, () => {
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

/** `env(S, ch, room, msg, user)` of bridge-profiles.md §2.4. */
function env(socket, channel, roomId, message, userName) {
  return {
    data: { message, roomId, roomChannel: channel },
    time: '2021-09-01T12:00:00.000Z',
    clientId: socket.id,
    source: { platform: 'web', appName: 'Sample App Name', appVersion: '1.0.0', clientId: socket.id, userName, channel },
  };
}
const online = (roomChannel, count, total) => ['online-users', { roomChannel, count, total }];
const roomOnline = (roomChannel, roomId, count) => ['room-online-users', { roomChannel, roomId, count }];

// §2.4's scenarios with the members spread over both nodes: every count is
// the cluster's (B-e7 `count` and `total`, B-r6 `count`), whoever's node
// announces it. A and D are on node 1, B, C and E on node 2.
describe('hubtel presence across two siobridge nodes', { skip: SIOBRIDGE_ONLY }, () => {
  const cluster = twoNodes('hubtel');
  const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, body);
  let A, B, C, D;

  scenario('joins on both nodes count the members of both (B-e1, B-e7)', async () => {
    ({ A, D } = await cluster.connect(0, ['A', 'D']));
    ({ B, C } = await cluster.connect(1, ['B', 'C']));
    cluster.state.home = { A: 0, D: 0, B: 1, C: 1, E: 1 };
    const joinA = env(A, 'ch1', null, '', 'a');
    A.emit('join-channel', joinA);
    await cluster.expect({ A: [['join-channel', joinA], online('ch1', 1, 1)] });
    const joinB = env(B, 'ch1', null, '', 'b');
    B.emit('join-channel', joinB);
    const notices = [['join-channel', joinB], online('ch1', 2, 2)];
    await cluster.expect({ A: notices, B: notices });
  });

  scenario('total counts distinct sockets in any channel on any node (R-B5)', async () => {
    const joinC = env(C, 'ch2', null, '', 'c');
    C.emit('join-channel', joinC);
    await cluster.expect({ C: [['join-channel', joinC], online('ch2', 1, 3)] });
    const joinD = env(D, 'ch2', null, '', 'd');
    D.emit('join-channel', joinD);
    const notices = [['join-channel', joinD], online('ch2', 2, 4)];
    await cluster.expect({ C: notices, D: notices });
    // A second channel of the same socket adds nothing to total.
    const joinA2 = env(A, 'ch2', null, '', 'a');
    A.emit('join-channel', joinA2);
    const more = [['join-channel', joinA2], online('ch2', 3, 4)];
    await cluster.expect({ A: more, C: more, D: more });
  });

  scenario('a leave on one node is counted on the other (B-e3, B-e7)', async () => {
    const leaveB = env(B, 'ch1', null, 'bye', 'b');
    B.emit('leave-channel', leaveB);
    await cluster.expect({ A: [['leave-channel', leaveB], online('ch1', 1, 3)] });
    const leaveA = env(A, 'ch2', null, 'bye', 'a');
    A.emit('leave-channel', leaveA);
    const notices = [['leave-channel', leaveA], online('ch2', 2, 3)];
    await cluster.expect({ C: notices, D: notices });
  });

  scenario('room counts are the cluster\'s (B-r1, B-r6)', async () => {
    const roomA = env(A, 'ch1', 'r1', '', 'a');
    A.emit('join-room', roomA);
    await cluster.expect({ A: [['join-room', roomA], roomOnline('ch1', 'r1', 1)] });
    const roomB = env(B, 'ch1', 'r1', '', 'b');
    B.emit('join-room', roomB);
    const notices = [['join-room', roomB], roomOnline('ch1', 'r1', 2)];
    await cluster.expect({ A: notices, B: notices });
    const roomC = env(C, 'ch2', 'r1', '', 'c');
    C.emit('join-room', roomC);
    await cluster.expect({ C: [['join-room', roomC], roomOnline('ch2', 'r1', 1)] });
    const leaveC = env(C, 'ch2', 'r1', '', 'c');
    C.emit('leave-room', leaveC);
    await cluster.expect({});
    C.emit('join-room', roomC);
    await cluster.expect({ C: [['join-room', roomC], roomOnline('ch2', 'r1', 1)] });
  });

  scenario('a disconnect is a leave, counted on every node (R-B3)', async () => {
    // B (node 2) is in room (ch1, r1) with A, and in no channel.
    const roomB = env(B, 'ch1', 'r1', '', 'b');
    B.disconnect();
    await cluster.expect({ A: [['leave-room', roomB]] });
    // D (node 1) is in ch2 with C (node 2); A is in ch1.
    const joinD = env(D, 'ch2', null, '', 'd');
    D.disconnect();
    await cluster.expect({ C: [['leave-channel', joinD], online('ch2', 1, 2)] });
    const { E } = await cluster.connect(1, ['E']);
    const roomE = env(E, 'ch1', 'r1', '', 'e');
    E.emit('join-room', roomE);
    const notices = [['join-room', roomE], roomOnline('ch1', 'r1', 2)];
    await cluster.expect({ A: notices, E: notices });
  });

  scenario('what the nodes keep in Redis is their live members only', async () => {
    const redis = cluster.state.redis.client();
    try {
      const ns = 'socket.io#bridge#hubtel#/';
      assert.deepEqual((await redis.smembers(`${ns}#channel#ch1`)).sort(), [A.id]);
      assert.deepEqual((await redis.smembers(`${ns}#channel#ch2`)).sort(), [C.id]);
      assert.deepEqual(await redis.hgetall(`${ns}#online`), { [A.id]: '1', [C.id]: '1' });
      assert.equal(await redis.scard(`${ns}#room#${JSON.stringify(['ch1', 'r1'])}`), 2);
    } finally {
      redis.disconnect();
    }
  });

  scenario('Redis down: the notices go out with this node\'s counts, and a log line', async () => {
    await cluster.state.redis.stop();
    const joinA = env(A, 'ch9', null, '', 'a');
    A.emit('join-channel', joinA);
    // Node 1's own members: A alone, in ch1 and now ch9.
    await cluster.expect({ A: [['join-channel', joinA], online('ch9', 1, 1)] });
    assert.match(cluster.state.nodes[0].stderr(), /bridge store: .*online-users counts this node's members only/);
  });
});
