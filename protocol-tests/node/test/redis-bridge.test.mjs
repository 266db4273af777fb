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

  scenario('a node that stops takes its members out of the counts (R-B3)', async () => {
    // Node 1 holds A (in ch1 and room (ch1, r1), with E of node 2).
    const roomA = env(A, 'ch1', 'r1', '', 'a');
    const stopped = await cluster.state.nodes[0].stop();
    assert.equal(stopped.forced, false);
    await cluster.expect({ E: [['leave-room', roomA]] });
    const redis = cluster.state.redis.client();
    try {
      const ns = 'socket.io#bridge#hubtel#/';
      assert.equal(await redis.exists(`${ns}#channel#ch1`), 0);
      assert.deepEqual(await redis.hgetall(`${ns}#online`), { [C.id]: '1' });
    } finally {
      redis.disconnect();
    }
  });

  scenario('Redis down: the notices go out with this node\'s counts, and a log line', async () => {
    await cluster.state.redis.stop();
    const joinC = env(C, 'ch9', null, '', 'c');
    C.emit('join-channel', joinC);
    // Node 2's own members in a channel: C (ch2, now ch9) and nobody else.
    await cluster.expect({ C: [['join-channel', joinC], online('ch9', 1, 1)] });
    assert.match(cluster.state.nodes[1].stderr(), /bridge store: .*online-users counts this node's members only/);
  });
});

// §1.5's scenarios with providers and clients on different nodes: the
// registry (A-e1) is one hash in Redis, a request reaches the holder's
// socket wherever it is, a reply only the requester. P, C2 and X are on
// node 1; C1, Q and Pb on node 2. A registration is acknowledged once the
// registry has it (the profile acks every event after handling it, §0.2
// rule 9), which is the SETTLE of §0.3.
describe('digital-auto registry across two siobridge nodes', { skip: SIOBRIDGE_ONLY }, () => {
  const cluster = twoNodes('digital-auto');
  const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, body);
  const registry = 'socket.io#bridge#digital-auto#/#providers';
  const acked = (client, event, payload) => client.socket.timeout(2000).emitWithAck(event, payload);
  let P, C2, X, C1, Q, Pb;

  scenario('provider on node 1, client on node 2: round trip to the requester only (A-e3..A-e6)', async () => {
    ({ P, C2, X } = await cluster.connect(0, ['P', 'C2', 'X']));
    ({ C1, Q } = await cluster.connect(1, ['C1', 'Q']));
    cluster.state.home = { P: 0, C2: 0, X: 0, C1: 1, Q: 1, Pb: 1 };
    await acked(P, 'register_provider', { provider_id: 'P1', name: 'Prov' });
    await acked(C1, 'register_client', { master_provider_id: 'P1' });
    await acked(C2, 'register_client', { master_provider_id: 'P1' });
    C1.emit('request_provider', { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
    const request = { to_provider_id: 'P1', cmd: 'double_me', data: 21, request_from: C1.id };
    await cluster.expect({ P: [['new_request', request]] });
    const reply = { ...request, result: 42 };
    P.emit('provider_reply', reply);
    await cluster.expect({ C1: [['provider_reply', reply]] });
  });

  scenario('provider on node 2, client on node 1: the reverse (A-e3..A-e6, R-A4)', async () => {
    await acked(Q, 'register_provider', { provider_id: 'Q1' });
    C2.emit('request_provider', { to_provider_id: 'Q1', cmd: 'ping', vss: [1, 2], request_from: 'evil' });
    const request = { to_provider_id: 'Q1', cmd: 'ping', vss: [1, 2], request_from: C2.id };
    await cluster.expect({ Q: [['new_request', request]] });
    Q.emit('provider_reply', { ...request, result: 'pong' });
    await cluster.expect({ C2: [['provider_reply', { ...request, result: 'pong' }]] });
  });

  scenario('replies go to socket ids only, on any node (R-A5)', async () => {
    for (const requestFrom of [undefined, 'not-a-socket', 'P1', 'subscribers:P1']) {
      Q.emit('provider_reply', { request_from: requestFrom, result: 1 });
    }
    await cluster.expect({});
  });

  scenario('a broadcast reaches the subscribers on both nodes (A-e7, A-e8, R-A6)', async () => {
    const message = { provider_id: 'P1', cmd: 'showSpeed', data: 7 };
    P.emit('sent_to_my_clients', message);
    await cluster.expect({ C1: [['message_from_provider', message]], C2: [['message_from_provider', message]] });
    P.emit('send_to_all_clients', { cmd: 'b', data: 2 });
    const bare = [['message_from_provider', { cmd: 'b', data: 2 }]];
    await cluster.expect({ C1: bare, C2: bare });
    // X holds nothing; Q does not hold P1.
    X.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'x' });
    Q.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'x' });
    await cluster.expect({});
  });

  scenario('ordering: one provider\'s broadcasts arrive in order on the other node (R-A7)', async () => {
    for (let i = 0; i < 10; i += 1) P.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'showSpeed', data: i });
    const events = [...Array(10).keys()].map((i) => ['message_from_provider', { provider_id: 'P1', cmd: 'showSpeed', data: i }]);
    await cluster.expect({ C1: events, C2: events });
  });

  scenario('a registration on node 2 replaces one on node 1, cluster-wide (R-A2)', async () => {
    ({ Pb } = await cluster.connect(1, ['Pb']));
    await acked(Pb, 'register_provider', { provider_id: 'P1' });
    C2.emit('request_provider', { to_provider_id: 'P1', cmd: 'x' });
    await cluster.expect({ Pb: [['new_request', { to_provider_id: 'P1', cmd: 'x', request_from: C2.id }]] });
    // The old holder's broadcasts for P1 are dropped, with or without the id.
    P.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'x' });
    P.emit('send_to_all_clients', { cmd: 'x' });
    await cluster.expect({});
    // The old holder's disconnect does not remove the new one.
    P.disconnect();
    await cluster.expect({});
    C1.emit('request_provider', { to_provider_id: 'P1', cmd: 'y' });
    await cluster.expect({ Pb: [['new_request', { to_provider_id: 'P1', cmd: 'y', request_from: C1.id }]] });
    const redis = cluster.state.redis.client();
    try {
      assert.deepEqual(await redis.hgetall(registry), { P1: Pb.id, Q1: Q.id });
    } finally {
      redis.disconnect();
    }
  });

  scenario('a reply to a requester gone from its node reaches nobody (§1.4)', async () => {
    C2.emit('request_provider', { to_provider_id: 'Q1', cmd: 'z' });
    const request = { to_provider_id: 'Q1', cmd: 'z', request_from: C2.id };
    await cluster.expect({ Q: [['new_request', request]] });
    C2.disconnect();
    await cluster.expect({});
    Q.emit('provider_reply', { ...request, result: 0 });
    await cluster.expect({});
  });

  scenario('a holder\'s disconnect removes its ids from the registry (R-A2)', async () => {
    Pb.disconnect();
    await cluster.expect({});
    X.emit('request_provider', { to_provider_id: 'P1', cmd: 'x' });
    await cluster.expect({});
    const redis = cluster.state.redis.client();
    try {
      assert.deepEqual(await redis.hgetall(registry), { Q1: Q.id });
    } finally {
      redis.disconnect();
    }
    // A new holder on node 1 reaches the subscriber on node 2 (R-A3).
    await acked(X, 'register_provider', { provider_id: 'P1' });
    X.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'c', data: 0 });
    await cluster.expect({ C1: [['message_from_provider', { provider_id: 'P1', cmd: 'c', data: 0 }]] });
  });

  scenario('a broadcast naming no id, from a socket holding 1,500 ids (R-A6)', async () => {
    // More ids than one Redis reply may list (resp.max_array, 1,024).
    await Promise.all([...Array(1500).keys()].map((i) => acked(Q, 'register_provider', { provider_id: `M${i}` })));
    await acked(C1, 'register_client', { master_provider_id: 'M1499' });
    Q.emit('send_to_all_clients', { cmd: 'many' });
    await cluster.expect({ C1: [['message_from_provider', { cmd: 'many' }]] });
  });

  scenario('a node that stops releases the ids of its sockets (R-A2)', async () => {
    // X of node 1 holds P1.
    const stopped = await cluster.state.nodes[0].stop();
    assert.equal(stopped.forced, false);
    const redis = cluster.state.redis.client();
    try {
      assert.equal(await redis.hget(registry, 'P1'), null);
      assert.equal(await redis.hget(registry, 'Q1'), Q.id);
      assert.equal(await redis.hlen(registry), 1501);
    } finally {
      redis.disconnect();
    }
    C1.emit('request_provider', { to_provider_id: 'Q1', cmd: 'still' });
    await cluster.expect({ Q: [['new_request', { to_provider_id: 'Q1', cmd: 'still', request_from: C1.id }]] });
  });

  scenario('Redis down: a request is dropped with a log line, nothing hangs', async () => {
    await cluster.state.redis.stop();
    C1.emit('request_provider', { to_provider_id: 'Q1', cmd: 'x' });
    await cluster.expect({});
    assert.match(cluster.state.nodes[1].stderr(), /bridge store: .*the event is dropped/);
    assert.ok(C1.connected);
  });
});
