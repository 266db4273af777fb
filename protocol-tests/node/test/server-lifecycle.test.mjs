// The process side of the conformance contract: the server starts on an
// ephemeral port (checked by startServer itself, which insists on the
// `listening on 127.0.0.1:<port>` line) and exits cleanly on SIGTERM, even
// with sessions open on both transports.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectWebSocket, request } from '../lib/raw.mjs';
import { startServer } from '../lib/server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

test('listens on the announced ephemeral port of 127.0.0.1', async () => {
  assert.ok(server.port > 0);
  assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  const response = await request(`${server.url}/engine.io/?EIO=4&transport=polling`);
  assert.equal(response.status, 200);
});

test('exits with status 0 on SIGTERM while sessions are open', async () => {
  const polling = await request(`${server.url}/engine.io/?EIO=4&transport=polling`);
  const sid = JSON.parse(polling.body.slice(1)).sid;
  // A GET left pending on the polling session, and an open websocket session.
  const pendingPoll = request(`${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`).catch(() => {});
  const socket = connectWebSocket(`${server.url.replace(/^http/, 'ws')}/engine.io/?EIO=4&transport=websocket`);
  await socket.nextMessage();

  assert.deepEqual(await server.stop(), { code: 0, signal: null, forced: false });
  await socket.nextClose();
  await pendingPoll;
});
