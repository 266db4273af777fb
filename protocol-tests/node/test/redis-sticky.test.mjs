// Sticky sessions past the adapter (issue 17, docs/cluster.md): siobridge
// nodes on one Redis behind a plain round-robin HTTP proxy (written here
// with node:http and node:net), so a session's polling requests land on
// every node; a node that does not hold the session passes the request to
// the one that does, over Redis, and hands its answer back.
// siobridge only: the Node reference does this only with
// @socket.io/cluster-engine, which the reference apps do not use.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { startServer } from '../lib/server.mjs';
import { startBridge } from '../lib/bridge.mjs';
import { startRedis, waitForServers } from '../lib/redis.mjs';
import { first, once } from '../lib/wait.mjs';
import { eventually } from '../lib/hostile.mjs';

const FORWARD_CHANNEL = 'socket.io-forward#/socket.io/#';

/** Resolves once `count` nodes subscribed to the forwarding channel. */
async function waitForForwarders(redis, count, timeoutMs = 10_000) {
  const client = redis.client();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const [, n] = await client.pubsub('NUMSUB', FORWARD_CHANNEL);
      if (Number(n) >= count) return;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${count} nodes subscribed to ${FORWARD_CHANNEL}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    client.disconnect();
  }
}

/**
 * A round-robin proxy in front of `backends` (each `{ host, port }`): every
 * request, and every upgrade, goes to the next backend, whatever its
 * session. `hits[i]` counts the polling requests backend `i` got with a sid,
 * `upgrades[i]` the WebSocket upgrades.
 */
async function roundRobin(backends) {
  let next = 0;
  const hits = backends.map(() => 0);
  const upgrades = backends.map(() => 0);
  const pick = () => {
    const i = next;
    next = (next + 1) % backends.length;
    return i;
  };
  const server = http.createServer((req, res) => {
    const i = pick();
    if (req.url.includes('sid=')) hits[i] += 1;
    const { host, port } = backends[i];
    const upstream = http.request({ host, port, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const i = pick();
    upgrades[i] += 1;
    const { host, port } = backends[i];
    const upstream = net.connect(port, host, () => {
      let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let k = 0; k < req.rawHeaders.length; k += 2) lines += `${req.rawHeaders[k]}: ${req.rawHeaders[k + 1]}\r\n`;
      upstream.write(`${lines}\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hits,
    upgrades,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const skip = !process.env.SIOBRIDGE_TESTAPP && 'siobridge only (SIOBRIDGE_TESTAPP unset): the reference apps do not use @socket.io/cluster-engine';

describe('three test apps behind a round-robin proxy', { skip }, () => {
  let redis;
  let proxy;
  const nodes = [];
  const clients = [];

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i += 1) nodes.push(await startServer({ app: 'testapp', env: { SIOBRIDGE_REDIS: redis.url } }));
    await waitForServers(redis, 3);
    await waitForForwarders(redis, 3);
    proxy = await roundRobin(nodes);
  });

  after(async () => {
    for (const c of clients) c.close();
    await proxy?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  const client = (opts) => {
    const c = connect(proxy.url, { forceNew: true, reconnection: false, ...opts });
    clients.push(c);
    return c;
  };

  test('polling only: connect, acks and broadcasts, with requests on every node', async () => {
    const before = [...proxy.hits];
    const a = client({ transports: ['polling'] });
    const b = client({ transports: ['polling'] });
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);
    for (let n = 0; n < 6; n += 1) {
      assert.deepEqual(await a.timeout(3000).emitWithAck('echo', { n }), { n });
      const got = [once(a, 'all').then(([v]) => v), once(b, 'all').then(([v]) => v)];
      await b.timeout(3000).emitWithAck('to-all', { event: 'all', data: `m${n}` });
      assert.deepEqual(await Promise.all(got), [`m${n}`, `m${n}`]);
    }
    assert.equal(a.io.engine.transport.name, 'polling');
    // Every node served requests of these sessions, so most were forwarded.
    proxy.hits.forEach((h, i) => assert.ok(h - before[i] >= 4, `node ${i} got ${h - before[i]} requests: ${proxy.hits}`));
  });

  test('a long poll forwarded waits for its data (a broadcast after a pause)', async () => {
    const a = client({ transports: ['polling'] });
    const b = client({ transports: ['polling'] });
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);
    // Past a heartbeat (300 ms in the test app): GETs held and answered by PINGs.
    await new Promise((r) => setTimeout(r, 700));
    const got = once(a, 'all').then(([v]) => v);
    await b.timeout(3000).emitWithAck('to-all', { event: 'all', data: 'late' });
    assert.equal(await got, 'late');
    assert.ok(a.connected && b.connected);
  });

  test('with the upgrade: the session moves to WebSocket on whichever node the upgrade lands (a tunnel to the owner)', async () => {
    const before = [...proxy.upgrades];
    const sockets = [];
    for (let k = 0; k < 3; k += 1) {
      const a = client({});
      const upgraded = first(a.io.engine, ['upgrade', 'upgradeError'], { timeoutMs: 3000 });
      await once(a, 'connect');
      const { event } = await upgraded;
      assert.equal(event, 'upgrade', `client ${k}`);
      assert.equal(a.io.engine.transport.name, 'websocket');
      sockets.push(a);
    }
    // Three upgrades over three nodes: at least two landed on a node that
    // does not hold the session (the proxy's turn moves on with every
    // request), and each works both ways: acks, and broadcasts from every
    // node's clients.
    assert.ok(proxy.upgrades.reduce((x, y) => x + y) - before.reduce((x, y) => x + y) >= 3);
    for (let k = 0; k < sockets.length; k += 1) {
      assert.equal(await sockets[k].timeout(3000).emitWithAck('echo', { k, blob: 'x'.repeat(40_000) }).then((v) => v.k), k);
      const got = sockets.map((s) => once(s, 'all').then(([v]) => v));
      await sockets[k].timeout(3000).emitWithAck('to-all', { event: 'all', data: `from ${k}` });
      assert.deepEqual(await Promise.all(got), sockets.map(() => `from ${k}`));
    }
    // Heartbeats cross the tunnels (pingInterval 300 ms, pingTimeout 200 ms:
    // a client that missed its PINGs would be gone), and a tunnel that
    // carries them outlives its idle bound (1.5 s here).
    await new Promise((r) => setTimeout(r, 2000));
    for (let k = 0; k < sockets.length; k += 1) {
      assert.ok(sockets[k].connected, `client ${k} still connected`);
      assert.equal(await sockets[k].timeout(3000).emitWithAck('echo', k), k);
    }
    // A tunnelled WebSocket that closes ends its session on the owner: the
    // cluster's fetchSockets no longer lists it.
    const ids = async () => (await sockets[0].timeout(3000).emitWithAck('cluster-fetch', {})).value.map((s) => s.id);
    const leaving = sockets[1].id;
    assert.ok((await ids()).includes(leaving));
    sockets[1].io.engine.close();
    await eventually(async () => !(await ids()).includes(leaving), { timeoutMs: 3000, what: 'the closed socket to leave its owner' });
  });

  test('a bad request for a session of another node gets the answer its owner gives', async () => {
    const open = await fetch(`${nodes[0].url}/socket.io/?EIO=4&transport=polling`);
    const { sid } = JSON.parse((await open.text()).slice(1));
    // transport=websocket without an Upgrade header, on a polling session.
    const path = `/socket.io/?EIO=4&transport=websocket&sid=${sid}`;
    const direct = await fetch(`${nodes[0].url}${path}`);
    const forwarded = await fetch(`${nodes[1].url}${path}`);
    assert.equal(direct.status, 400);
    assert.equal(forwarded.status, direct.status);
    assert.deepEqual(await forwarded.json(), await direct.json());
  });

  test('a sid no node holds gets 400 Session ID unknown after the forwarding timeout', async () => {
    const started = Date.now();
    const res = await fetch(`${nodes[0].url}/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 1, message: 'Session ID unknown' });
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 5000, `took ${took} ms`);
  });
});

describe('two siobridge --redis binaries (chat) behind a round-robin proxy', { skip: !process.env.SIOBRIDGE_BIN && 'siobridge only (SIOBRIDGE_BIN unset)' }, () => {
  let redis;
  let proxy;
  const nodes = [];
  const clients = [];

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i += 1) nodes.push(await startBridge({ args: ['--redis', redis.url, '--profile', '/=chat'] }));
    await waitForServers(redis, 2);
    await waitForForwarders(redis, 2);
    proxy = await roundRobin(nodes);
  });

  after(async () => {
    for (const c of clients) c.close();
    await proxy?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  test('polling only: my event reaches both clients, requests spread over both nodes', async () => {
    const before = [...proxy.hits];
    for (let i = 0; i < 2; i += 1) clients.push(connect(proxy.url, { forceNew: true, reconnection: false, transports: ['polling'] }));
    await Promise.all(clients.map((c) => once(c, 'connect')));
    for (let n = 0; n < 4; n += 1) {
      const got = clients.map((c) => once(c, 'my response').then(([v]) => v));
      clients[n % 2].emit('my event', { n });
      assert.deepEqual(await Promise.all(got), [{ n }, { n }]);
    }
    proxy.hits.forEach((h, i) => assert.ok(h - before[i] >= 2, `node ${i} got ${h - before[i]} requests: ${proxy.hits}`));
  });

  test('a forwarded long poll whose client goes away ends the session on its owner, as a local one does', async () => {
    // The binary's heartbeat is 25 s: the session would otherwise live on.
    for (const via of [0, 1]) {
      const open = await fetch(`${nodes[0].url}/socket.io/?EIO=4&transport=polling`);
      const { sid } = JSON.parse((await open.text()).slice(1));
      const poll = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      // A GET held (nothing to send before the PING), then dropped.
      const controller = new AbortController();
      const held = fetch(`${nodes[via].url}${poll}`, { signal: controller.signal }).catch((e) => e.name);
      await new Promise((r) => setTimeout(r, 100));
      controller.abort();
      assert.equal(await held, 'AbortError');
      // A NOOP posted to the owner: 200 while the session lives, 400 once it ended.
      const answer = await eventually(async () => {
        const r = await fetch(`${nodes[0].url}${poll}`, { method: 'POST', body: '6', signal: AbortSignal.timeout(2000) });
        return r.status === 400 && r.json();
      }, { timeoutMs: 3000, what: `the session to end after its ${via ? 'forwarded' : 'local'} poll was dropped` });
      assert.deepEqual(answer, { code: 1, message: 'Session ID unknown' });
    }
  });
});
