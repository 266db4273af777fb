// Profile C, Directual push (bridge-profiles.md §3), on two siobridge
// binaries sharing one Redis (`--redis`): a session created over HTTP on
// either node (C-h1) lets its user connect to any node (C-s1), and a push
// to either node (C-h2) reaches the user's sockets on both, never another
// app's (R-C2, R-C3). The sessions are one Redis hash
// (`<prefix>#bridge#directual#sessions`, docs/cluster.md); `delivered`
// counts the sockets reached on every node.
// siobridge only: the reference bridge server has no Redis adapter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { postApi } from '../lib/bridge-clients.mjs';
import { startRedis, waitForServers } from '../lib/redis.mjs';
import { expectNoEvent, once } from '../lib/wait.mjs';

const SESSIONS = [
  // [node the session is created on, session]
  [0, { session_id: 's1', app_id: 'app1', user_id: 'u1' }],
  [1, { session_id: 's1b', app_id: 'app1', user_id: 'u1' }],
  [1, { session_id: 's2', app_id: 'app1', user_id: 'u2' }],
  [0, { session_id: 's3', app_id: 'app2', user_id: 'u1' }],
];

describe('directual across two siobridge nodes', { skip: !process.env.SIOBRIDGE_BIN && 'siobridge only (SIOBRIDGE_BIN unset): the reference bridge has no Redis adapter' }, () => {
  let redis;
  const nodes = [];
  const clients = {};
  const open = (name, node, auth, transport = 'websocket') =>
    connect(nodes[node].url, { forceNew: true, reconnection: false, transports: [transport], auth });

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i += 1) {
      nodes.push(await startBridge({ args: ['--redis', redis.url, '--profile', '/=directual'] }));
    }
    await waitForServers(redis, 2);
    for (const [node, session] of SESSIONS) {
      const answer = await postApi(nodes[node].url, '/api/v1/sessions', session);
      assert.deepEqual({ status: answer.status, body: answer.body }, { status: 200, body: { status: 'OK', session_id: session.session_id } });
    }
  });

  after(async () => {
    for (const client of Object.values(clients)) client.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  const next = (name, event) => once(clients[name], event, { timeoutMs: 2000 }).then((args) => args);

  test('a session created on one node lets its user connect to the other (C-h1, C-s1)', async () => {
    // Each session on the node it was not created on, and one on its own.
    for (const [name, node, appId, sessionId, transport] of [
      ['U1a', 1, 'app1', 's1', 'websocket'],
      ['U1b', 0, 'app1', 's1b', 'polling'],
      ['U2', 0, 'app1', 's2', 'websocket'],
      ['X', 1, 'app2', 's3', 'websocket'],
    ]) {
      clients[name] = open(name, node, { app_id: appId, session_id: sessionId }, transport);
      await once(clients[name], 'connect');
    }
  });

  test('an unknown session, or one of another app, is refused on either node', async () => {
    for (const node of [0, 1]) {
      for (const auth of [{ app_id: 'app1', session_id: 'bogus' }, { app_id: 'app1', session_id: 's3' }, { session_id: 's1' }]) {
        const socket = open('refused', node, auth);
        try {
          const [error] = await once(socket, 'connect_error');
          assert.equal(error.message, 'unauthorized', `node ${node}, auth ${JSON.stringify(auth)}`);
        } finally {
          socket.close();
        }
      }
    }
  });

  test('a push to either node reaches the user on both, never another app (R-C2, R-C3)', async () => {
    const alert = { message: 'Hello', parameters: { position: 'top-right', duration: 4000 } };
    for (const node of [0, 1]) {
      const got = [next('U1a', 'alert'), next('U1b', 'alert'), expectNoEvent(clients.U2, 'alert', 400), expectNoEvent(clients.X, 'alert', 400)];
      const answer = await postApi(nodes[node].url, '/api/v1/push', { app_id: 'app1', user_id: 'u1', event: 'alert', message: alert });
      // R-C4: `delivered` counts the user's sockets on both nodes.
      assert.deepEqual({ status: answer.status, body: answer.body }, { status: 200, body: { status: 'OK', delivered: 2 } });
      assert.deepEqual(await Promise.all(got), [[alert], [alert], undefined, undefined]);
    }
  });

  test('an offline user: delivered 0 from either node (R-C4)', async () => {
    for (const node of [0, 1]) {
      const answer = await postApi(nodes[node].url, '/api/v1/push', { app_id: 'app1', user_id: 'u404', event: 'x' });
      assert.deepEqual({ status: answer.status, body: answer.body }, { status: 200, body: { status: 'OK', delivered: 0 } });
    }
  });

  test("a push to every user of an app reaches that app's sockets on both nodes", async () => {
    const got = [next('U1a', 'refresh_orders'), next('U1b', 'refresh_orders'), next('U2', 'refresh_orders'), expectNoEvent(clients.X, 'refresh_orders', 400)];
    const answer = await postApi(nodes[1].url, '/api/v1/push', { app_id: 'app1', user_id: '*', event: 'refresh_orders', message: 'x' });
    assert.deepEqual(answer.body, { status: 'OK', delivered: 3 });
    assert.deepEqual(await Promise.all(got), [['x'], ['x'], ['x'], undefined]);
  });

  test('Redis down: a new session gets 503 and nothing is created; known sessions still connect to the node that knows them', async () => {
    await redis.stop();
    const answer = await postApi(nodes[0].url, '/api/v1/sessions', { session_id: 's9', app_id: 'app1', user_id: 'u9' });
    assert.deepEqual({ status: answer.status, body: answer.body }, { status: 503, body: { status: 'ERR', message: 'the session store is unreachable' } });
    // s1 was made on node 0 and used on node 1: both have it in their cache.
    for (const node of [0, 1]) {
      const socket = open('again', node, { app_id: 'app1', session_id: 's1' });
      try {
        await once(socket, 'connect');
      } finally {
        socket.close();
      }
    }
    // s9 was never created: refused, not left hanging.
    const refused = open('s9', 1, { app_id: 'app1', session_id: 's9' });
    try {
      const [error] = await once(refused, 'connect_error', { timeoutMs: 8000 });
      assert.equal(error.message, 'unauthorized');
    } finally {
      refused.close();
    }
  });
});
