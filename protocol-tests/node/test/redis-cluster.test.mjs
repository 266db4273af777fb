// A mixed cluster on one real Redis (issue 17): two test apps (siobridge's
// examples/testapp.rs with SIOBRIDGE_TESTAPP set, the Node reference
// otherwise) and one Node socket.io 4.8 server with @socket.io/redis-adapter
// 8.3 (always the reference test app), plus @socket.io/redis-emitter 5.1,
// with one socket.io-client 4.8 client on each node. Run without
// SIOBRIDGE_TESTAPP, it is three Node nodes: that run proves the tests.
//
// Each node is told SIOBRIDGE_REDIS=<url>. Before the tests, Redis is asked
// until every node has subscribed to the request channel (what the Node
// adapter's serverCount() counts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { io as connect } from 'socket.io-client';
import { Emitter } from '@socket.io/redis-emitter';
import { launch, startServer } from '../lib/server.mjs';
import { startRedis, waitForServers } from '../lib/redis.mjs';
import { expectNoEvent, once } from '../lib/wait.mjs';

const QUIET_MS = 400;
const REFERENCE_APP = fileURLToPath(new URL('../reference/socketio-testapp.mjs', import.meta.url));

describe('a cluster on Redis', () => {
  let redis;
  const nodes = {};
  const clients = {};

  before(async () => {
    redis = await startRedis();
    const env = { SIOBRIDGE_REDIS: redis.url };
    nodes.a = await startServer({ app: 'testapp', env });
    nodes.b = await startServer({ app: 'testapp', env });
    nodes.node = await launch({ executable: REFERENCE_APP, env: { ...env, CONFORMANCE_PORT: '0' } });
    await waitForServers(redis, 3);
    for (const name of Object.keys(nodes)) {
      clients[name] = connect(nodes[name].url, { forceNew: true, reconnection: false, transports: ['websocket'] });
      await once(clients[name], 'connect');
    }
  });

  after(async () => {
    for (const client of Object.values(clients)) client.close();
    await Promise.all(Object.values(nodes).map((n) => n.stop()));
    await redis?.stop();
  });

  const ask = (name, event, ...args) => clients[name].timeout(2000).emitWithAck(event, ...args);
  const next = (name, event) => once(clients[name], event, { timeoutMs: 2000 }).then(([value]) => value);
  const silent = (name, event) => expectNoEvent(clients[name], event, QUIET_MS);

  test('a broadcast from each node reaches the clients of every node', async () => {
    for (const from of ['a', 'b', 'node']) {
      const got = ['a', 'b', 'node'].map((name) => next(name, 'all'));
      await ask(from, 'to-all', { event: 'all', data: `from ${from}` });
      assert.deepEqual(await Promise.all(got), [`from ${from}`, `from ${from}`, `from ${from}`]);
    }
  });

  test('rooms across nodes: only the sockets in the room get it', async () => {
    await ask('a', 'join', 'r');
    await ask('node', 'join', 'r');
    for (const from of ['a', 'b', 'node']) {
      const got = [next('a', 'room'), next('node', 'room'), silent('b', 'room')];
      await ask(from, 'to-room', { room: 'r', event: 'room', data: from });
      assert.deepEqual(await Promise.all(got), [from, from, undefined]);
    }
  });

  test('except across nodes: the sockets in the room are left out', async () => {
    for (const from of ['a', 'b', 'node']) {
      const got = [next('b', 'ex'), silent('a', 'ex'), silent('node', 'ex')];
      await ask(from, 'except-room', { room: 'r', event: 'ex', data: from });
      assert.deepEqual(await Promise.all(got), [from, undefined, undefined]);
    }
  });

  test('socket.broadcast reaches every node but the sender', async () => {
    for (const from of ['a', 'b', 'node']) {
      const others = ['a', 'b', 'node'].filter((n) => n !== from);
      const got = [...others.map((n) => next(n, 'bc')), silent(from, 'bc')];
      await ask(from, 'broadcast', { event: 'bc', data: from });
      assert.deepEqual(await Promise.all(got), [from, from, undefined]);
    }
  });

  test('socket.to(room) from a member leaves the sender out on every node', async () => {
    const got = [next('node', 'tr'), silent('a', 'tr'), silent('b', 'tr')];
    await ask('a', 'to-room-from-me', { room: 'r', event: 'tr', data: 1 });
    assert.deepEqual(await Promise.all(got), [1, undefined, undefined]);
  });

  test('binary crosses nodes and reaches clients as binary', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    for (const from of ['a', 'b', 'node']) {
      const got = ['a', 'b', 'node'].map((name) => next(name, 'bin'));
      await ask(from, 'to-all', { event: 'bin', data: { bytes, n: 1 } });
      for (const value of await Promise.all(got)) {
        assert.ok(Buffer.isBuffer(value.bytes), `a Buffer from ${from}`);
        assert.deepEqual([...value.bytes], [...bytes]);
        assert.equal(value.n, 1);
      }
    }
  });

  test('a Date from a Node node reaches every client as its ISO string', async () => {
    const got = ['a', 'b', 'node'].map((name) => next(name, 'dt'));
    await ask('node', 'cluster-emit-date', { event: 'dt', ms: 1700000000123 });
    const iso = '2023-11-14T22:13:20.123Z';
    assert.deepEqual(await Promise.all(got), [iso, iso, iso]);
  });

  test('the redis emitter reaches every node, to all and to a room', async () => {
    const publisher = redis.client();
    try {
      const emitter = new Emitter(publisher);
      let got = ['a', 'b', 'node'].map((name) => next(name, 'em'));
      emitter.emit('em', 'to all', Buffer.from([7]));
      assert.deepEqual(await Promise.all(got), ['to all', 'to all', 'to all']);

      got = [next('a', 'em'), next('node', 'em'), silent('b', 'em')];
      emitter.to('r').emit('em', 'to r');
      assert.deepEqual(await Promise.all(got), ['to r', 'to r', undefined]);

      got = [next('b', 'em'), silent('a', 'em'), silent('node', 'em')];
      emitter.except('r').emit('em', 'except r');
      assert.deepEqual(await Promise.all(got), ['except r', undefined, undefined]);
    } finally {
      publisher.disconnect();
    }
  });

  test('another namespace joins the cluster on its first connection', async () => {
    const custom = {};
    try {
      for (const name of ['a', 'b', 'node']) {
        custom[name] = connect(`${nodes[name].url}/custom`, { forceNew: true, reconnection: false, transports: ['websocket'] });
        await once(custom[name], 'connect');
      }
      await waitForServers(redis, 3, { nsp: '/custom' });
      const publisher = redis.client();
      try {
        const got = ['a', 'b', 'node'].map((name) => once(custom[name], 'c', { timeoutMs: 2000 }).then(([v]) => v));
        const root = silent('a', 'c');
        new Emitter(publisher).of('/custom').emit('c', 'to /custom');
        assert.deepEqual(await Promise.all(got), ['to /custom', 'to /custom', 'to /custom']);
        await root;
      } finally {
        publisher.disconnect();
      }
    } finally {
      for (const socket of Object.values(custom)) socket.close();
    }
  });

  test("the redis emitter's socketsJoin, socketsLeave and disconnectSockets reach every node", async () => {
    const publisher = redis.client();
    try {
      const emitter = new Emitter(publisher);
      emitter.in('r').socketsJoin('ej');
      await roomsUntil('a', (rooms) => rooms.includes('ej'));
      await roomsUntil('node', (rooms) => rooms.includes('ej'));
      assert.ok(!(await ask('b', 'rooms')).includes('ej'), 'b is not in r');
      emitter.in('ej').socketsLeave('ej');
      await roomsUntil('a', (rooms) => !rooms.includes('ej'));
      await roomsUntil('node', (rooms) => !rooms.includes('ej'));
      const victim = connect(nodes.a.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
      await once(victim, 'connect');
      const gone = once(victim, 'disconnect', { timeoutMs: 2000 });
      emitter.in(victim.id).disconnectSockets();
      assert.equal((await gone)[0], 'io server disconnect');
      victim.close();
    } finally {
      publisher.disconnect();
    }
  });

  test('a polling request that reaches another node: the Node node says Session ID unknown at once, a siobridge node passes it to the owner', async () => {
    const open = await fetch(`${nodes.a.url}/socket.io/?EIO=4&transport=polling`);
    const { sid } = JSON.parse((await open.text()).slice(1));
    const answer = await fetch(`${nodes.node.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      signal: AbortSignal.timeout(2000),
    });
    assert.equal(answer.status, 400);
    assert.deepEqual(await answer.json(), { code: 1, message: 'Session ID unknown' });
    // Node b: siobridge forwards (redis-sticky.test.mjs); the Node test app
    // (no @socket.io/cluster-engine) does not.
    const forwarded = await fetch(`${nodes.b.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      signal: AbortSignal.timeout(2000),
    });
    if (process.env.SIOBRIDGE_TESTAPP) {
      assert.equal(forwarded.status, 200);
      assert.equal(await forwarded.text(), '2', 'the long poll, answered by the owner\'s PING');
    } else {
      assert.equal(forwarded.status, 400);
      assert.deepEqual(await forwarded.json(), { code: 1, message: 'Session ID unknown' });
    }
  });

  // Requests of the adapter, asked from the Node node and from node a (a
  // siobridge node when SIOBRIDGE_TESTAPP is set): each waits for an answer
  // from every subscribed server (requestsTimeout, 5 s, is longer than
  // `ask`'s 2 s: a node that does not answer fails the test).
  const byId = (sockets) => [...sockets].sort((x, y) => x.id.localeCompare(y.id));

  /** The rooms of client `name`, asked until `check` holds (at most 2 s). */
  async function roomsUntil(name, check) {
    const deadline = Date.now() + 2000;
    for (;;) {
      const rooms = await ask(name, 'rooms');
      if (check(rooms)) return rooms;
      if (Date.now() > deadline) throw new Error(`${name}'s rooms stayed ${rooms}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  for (const from of ['node', 'a']) {
    test(`serverCount counts every node (asked from ${from})`, async () => {
      assert.deepEqual(await ask(from, 'cluster-count'), { err: null, value: 3 });
    });

    test(`fetchSockets gets the sockets of every node (asked from ${from})`, async () => {
      const { err, value } = await ask(from, 'cluster-fetch', { room: 'r' });
      assert.equal(err, null);
      const expected = ['a', 'node'].map((n) => ({ id: clients[n].id, rooms: [clients[n].id, 'r'].sort(), auth: {} }));
      assert.deepEqual(byId(value), byId(expected));
    });

    test(`allRooms gets the rooms of every node (asked from ${from})`, async () => {
      const { err, value } = await ask(from, 'cluster-all-rooms');
      assert.equal(err, null);
      for (const room of ['r', clients.a.id, clients.b.id, clients.node.id]) {
        assert.ok(value.includes(room), `${room} in ${value}`);
      }
    });

    test(`socketsJoin and socketsLeave reach the sockets of every node (asked from ${from})`, async () => {
      await ask(from, 'cluster-join', { room: 'r', target: 'j' });
      await roomsUntil('a', (rooms) => rooms.includes('j'));
      await roomsUntil('node', (rooms) => rooms.includes('j'));
      assert.ok(!(await ask('b', 'rooms')).includes('j'), 'b is not in r');
      await ask(from, 'cluster-leave', { room: 'j', target: 'j' });
      await roomsUntil('a', (rooms) => !rooms.includes('j'));
      await roomsUntil('node', (rooms) => !rooms.includes('j'));
    });

    test(`a local socketsJoin stays on its node (asked from ${from})`, async () => {
      // a and node are in r. The local join is published nowhere; the
      // cluster-wide join of m after it is: once the other node's client
      // is in m, a published join of l would have come before it.
      const other = from === 'a' ? 'node' : 'a';
      await ask(from, 'cluster-join-local', { room: 'r', target: 'l' });
      await roomsUntil(from, (rooms) => rooms.includes('l'));
      await ask(from, 'cluster-join', { room: 'r', target: 'm' });
      const rooms = await roomsUntil(other, (rooms) => rooms.includes('m'));
      assert.ok(!rooms.includes('l'), `${other} did not join l: ${rooms}`);
      await ask(from, 'cluster-leave', { room: 'l', target: 'l' });
      await ask(from, 'cluster-leave', { room: 'm', target: 'm' });
      await roomsUntil(from, (rooms) => !rooms.includes('l') && !rooms.includes('m'));
      await roomsUntil(other, (rooms) => !rooms.includes('m'));
    });

    test(`serverSideEmit without an ack reaches the listeners of every other node (asked from ${from})`, async () => {
      const others = ['a', 'b', 'node'].filter((n) => n !== from);
      const got = others.map((name) => next(name, 'announced'));
      const quiet = silent(from, 'announced');
      assert.deepEqual(
        await ask(from, 'cluster-server-side-emit', { event: 'announce', data: `hi from ${from}`, ack: false }),
        { err: null, value: null },
      );
      assert.deepEqual(await Promise.all(got), others.map(() => `hi from ${from}`));
      await quiet; // not this node's own listeners, as in the reference
    });

    test(`fetchSockets of a room nobody is in is empty on every node (asked from ${from})`, async () => {
      assert.deepEqual(await ask(from, 'cluster-fetch', { room: 'nobody' }), { err: null, value: [] });
    });

    test(`serverSideEmit with an ack gets an answer from every other node (asked from ${from})`, async () => {
      assert.deepEqual(
        await ask(from, 'cluster-server-side-emit', { event: 'ping-servers', data: 5 }),
        { err: null, value: [{ pong: 5 }, { pong: 5 }] },
      );
    });

    test(`disconnectSockets reaches the sockets of every node (asked from ${from})`, async () => {
      const victim = connect(nodes.b.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
      await once(victim, 'connect');
      const gone = once(victim, 'disconnect', { timeoutMs: 2000 });
      await ask(from, 'cluster-disconnect', { room: victim.id, close: false });
      assert.equal((await gone)[0], 'io server disconnect');
      victim.close();
    });
  }

  test('a broadcast with acks gets the ack of every client of every node', async () => {
    for (const name of ['a', 'b', 'node']) {
      clients[name].on('q', (data, ack) => ack(`${name}:${data}`));
    }
    for (const from of ['node', 'a']) {
      assert.deepEqual(
        await ask(from, 'ask-all', { event: 'q', data: from, timeout: 1500 }),
        { err: null, replies: [`a:${from}`, `b:${from}`, `node:${from}`] },
        `asked from ${from}`,
      );
    }
  });

  test('a broadcast with acks times out with the acks that came', async () => {
    clients.b.off('q');
    clients.b.on('q', () => {}); // b's client never answers
    // Nor does a second client of a: a's first client's ack must still come
    // before the timeout (each ack is published as it comes).
    const mute = connect(nodes.a.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    await once(mute, 'connect');
    mute.on('q', () => {});
    try {
      for (const from of ['node', 'a']) {
        assert.deepEqual(
          await ask(from, 'ask-all', { event: 'q', data: 't', timeout: 300 }),
          { err: 'operation has timed out', replies: ['a:t', 'node:t'] },
          `asked from ${from}`,
        );
      }
    } finally {
      mute.close();
    }
  });
});

// The same cluster with socket.io-msgpack-parser between every node and its
// clients (SIOBRIDGE_PARSER=msgpack): the adapter's format does not depend
// on it, and binary still reaches clients as binary.
describe('a cluster on Redis, with the msgpack parser', () => {
  const parser = createRequire(import.meta.url)('socket.io-msgpack-parser');
  let redis;
  const nodes = {};
  const clients = {};

  before(async () => {
    redis = await startRedis();
    const env = { SIOBRIDGE_REDIS: redis.url, SIOBRIDGE_PARSER: 'msgpack' };
    nodes.a = await startServer({ app: 'testapp', env });
    nodes.node = await launch({ executable: REFERENCE_APP, env: { ...env, CONFORMANCE_PORT: '0' } });
    await waitForServers(redis, 2);
    for (const name of Object.keys(nodes)) {
      clients[name] = connect(nodes[name].url, { forceNew: true, reconnection: false, transports: ['websocket'], parser });
      await once(clients[name], 'connect');
    }
  });

  after(async () => {
    for (const client of Object.values(clients)) client.close();
    await Promise.all(Object.values(nodes).map((n) => n.stop()));
    await redis?.stop();
  });

  test('broadcasts with binary cross nodes both ways', async () => {
    const bytes = Buffer.from([1, 2, 3]);
    for (const from of ['a', 'node']) {
      const got = ['a', 'node'].map((name) => once(clients[name], 'm', { timeoutMs: 2000 }).then(([v]) => v));
      await clients[from].timeout(2000).emitWithAck('to-all', { event: 'm', data: { bytes, from } });
      for (const value of await Promise.all(got)) {
        assert.ok(Buffer.isBuffer(value.bytes), `a Buffer from ${from}`);
        assert.deepEqual([...value.bytes], [1, 2, 3]);
        assert.equal(value.from, from);
      }
    }
  });
});
