// Engine.IO v4 spoken by hand, over `fetch` (HTTP long-polling) and `ws`
// (WebSocket), against the echo server of the conformance contract.
//
// Section names in comments refer to the headings of the Engine.IO protocol
// v4 specification (socketio/engine.io-protocol, README). Where the spec
// leaves a choice open, the assertions accept what the Node reference server
// (`engine.io`) does and what the upstream v4 conformance suite allows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connectWebSocket, refusedWebSocket, request } from '../lib/raw.mjs';
import { startServer } from '../lib/server.mjs';

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
// Slack on top of protocol timings for scheduling and I/O.
const MARGIN = 500;
// Lets the server register a request sent just before (a pending GET, an
// aborted connection) ahead of the next one. It orders the test's own
// requests; it is never what an assertion depends on.
const SETTLE_MS = 50;
const SEPARATOR = '\x1e';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

function eioUrl(query, scheme = 'http') {
  return `${server.url.replace(/^http/, scheme)}/engine.io/?${new URLSearchParams(query)}`;
}
const pollingUrl = (sid) => eioUrl({ EIO: '4', transport: 'polling', ...(sid && { sid }) });
const websocketUrl = (sid) => eioUrl({ EIO: '4', transport: 'websocket', ...(sid && { sid }) }, 'ws');

const get = (sid, init) => request(pollingUrl(sid), init);
const post = (sid, body, init) => request(pollingUrl(sid), { method: 'POST', body, ...init });

const mediaType = (contentType) => contentType?.split(';')[0].trim().toLowerCase();

function parseOpenPacket(packet) {
  assert.equal(packet[0], '0', `expected an open packet, got ${JSON.stringify(packet.slice(0, 80))}`);
  return JSON.parse(packet.slice(1));
}

// Handshake: the open packet carries exactly these keys and values.
function assertHandshake(handshake, upgrades) {
  assert.deepEqual(Object.keys(handshake).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof handshake.sid, 'string');
  assert.ok(handshake.sid.length > 0);
  assert.deepEqual(handshake.upgrades, upgrades);
  assert.equal(handshake.pingInterval, PING_INTERVAL);
  assert.equal(handshake.pingTimeout, PING_TIMEOUT);
  assert.equal(handshake.maxPayload, MAX_PAYLOAD);
}

async function openPollingSession() {
  const response = await get();
  assert.equal(response.status, 200);
  return parseOpenPacket(response.body).sid;
}

async function openWebSocketSession() {
  const socket = connectWebSocket(websocketUrl());
  const handshake = parseOpenPacket(await socket.nextMessage());
  return { socket, sid: handshake.sid };
}

// Error answers are HTTP 400 with a JSON body `{"code":N,"message":"..."}`,
// byte for byte as the reference server sends them.
function assertErrorAnswer(response, code, message) {
  assert.equal(response.status, 400);
  assert.equal(mediaType(response.contentType), 'application/json');
  assert.equal(response.body, JSON.stringify({ code, message }));
}

// A closed session is an unknown one: "The server MUST return an HTTP 400
// response if the session ID is not known" (Transports > HTTP long-polling).
async function assertSessionClosed(sid) {
  assertErrorAnswer(await get(sid), 1, 'Session ID unknown');
}

// Polls until `count` packets arrived: a server may spread what it has to send
// over several responses (Packet encoding > HTTP long-polling).
async function pollPackets(sid, count) {
  const packets = [];
  while (packets.length < count) {
    const response = await get(sid);
    assert.equal(response.status, 200);
    packets.push(...response.body.split(SEPARATOR));
  }
  return packets;
}

// Next packet on a WebSocket session other than a ping; pings are answered so
// a test that runs past pingInterval keeps its session.
async function nextNonPing(socket) {
  for (;;) {
    const packet = await socket.nextMessage({ timeoutMs: PING_INTERVAL + PING_TIMEOUT + MARGIN });
    if (packet !== '2') return packet;
    socket.send('3');
  }
}

// Upgrade: probe with `2probe`, get `3probe`, complete with `5`. The echo that
// follows proves the server switched transports: a message on a WebSocket that
// is still being probed makes the reference server drop the probe.
async function upgradeSession(sid) {
  const socket = connectWebSocket(websocketUrl(sid));
  await socket.opened;
  socket.send('2probe');
  assert.equal(await socket.nextMessage(), '3probe');
  socket.send('5');
  socket.send('4upgraded');
  assert.equal(await nextNonPing(socket), '4upgraded');
  return socket;
}

describe('handshake', () => {
  test('over polling: 200 and an open packet offering the websocket upgrade', async () => {
    const response = await get();
    assert.equal(response.status, 200);
    assert.equal(mediaType(response.contentType), 'text/plain');
    const handshake = parseOpenPacket(response.body);
    assertHandshake(handshake, ['websocket']);

    assert.notEqual(await openPollingSession(), handshake.sid, 'each handshake opens a new session');
  });

  test('over websocket: an open packet offering no upgrade', async () => {
    const socket = connectWebSocket(websocketUrl());
    const packet = await socket.nextMessage();
    assert.equal(typeof packet, 'string', 'the open packet is a text frame');
    assertHandshake(parseOpenPacket(packet), []);
    socket.ws.close();
  });
});

describe('error answers', () => {
  const polling = { EIO: '4', transport: 'polling' };
  const cases = [
    { name: 'missing transport', query: { EIO: '4' }, code: 0, message: 'Transport unknown' },
    { name: 'unknown transport', query: { EIO: '4', transport: 'abc' }, code: 0, message: 'Transport unknown' },
    { name: 'unknown sid (GET)', query: { ...polling, sid: 'no-such-session' }, code: 1, message: 'Session ID unknown' },
    { name: 'unknown sid (POST)', method: 'POST', body: '4hello', query: { ...polling, sid: 'no-such-session' }, code: 1, message: 'Session ID unknown' },
    { name: 'POST without sid', method: 'POST', body: '4hello', query: polling, code: 2, message: 'Bad handshake method' },
    { name: 'PUT without sid', method: 'PUT', body: '4hello', query: polling, code: 2, message: 'Bad handshake method' },
    { name: 'websocket transport without upgrade headers', query: { EIO: '4', transport: 'websocket' }, code: 3, message: 'Bad request' },
    { name: 'missing EIO', query: { transport: 'polling' }, code: 5, message: 'Unsupported protocol version' },
    { name: 'non-numeric EIO', query: { EIO: 'abc', transport: 'polling' }, code: 5, message: 'Unsupported protocol version' },
    { name: 'EIO=3', query: { EIO: '3', transport: 'polling' }, code: 5, message: 'Unsupported protocol version' },
  ];
  for (const { name, query, method = 'GET', body, code, message } of cases) {
    test(`${name}: 400 ${JSON.stringify({ code, message })}`, async () => {
      assertErrorAnswer(await request(eioUrl(query), { method, body }), code, message);
    });
  }

  test('polling with the sid of a websocket session: 400 {"code":3,"message":"Bad request"}', async () => {
    const { socket, sid } = await openWebSocketSession();
    assertErrorAnswer(await get(sid), 3, 'Bad request');
    socket.ws.close();
  });

  // Transports > WebSocket: "If a mandatory query parameter is missing, then
  // the server MUST close the WebSocket connection." Refusing the upgrade
  // with HTTP 400 does that too; the reference does so except for a bad EIO,
  // which it detects only after the upgrade and then drops the connection.
  const refused = [
    { name: 'missing transport', query: { EIO: '4' } },
    { name: 'unknown transport', query: { EIO: '4', transport: 'abc' } },
    { name: 'missing EIO', query: { transport: 'websocket' } },
    { name: 'non-numeric EIO', query: { EIO: 'abc', transport: 'websocket' } },
    { name: 'unknown sid', query: { EIO: '4', transport: 'websocket', sid: 'no-such-session' } },
  ];
  for (const { name, query } of refused) {
    test(`websocket with ${name} is refused`, async () => {
      const outcome = await refusedWebSocket(eioUrl(query, 'ws'));
      if (outcome.status !== undefined) {
        assert.equal(outcome.status, 400);
      } else {
        assert.ok(
          !outcome.messages.some((packet) => typeof packet === 'string' && packet.startsWith('0')),
          `the server opened a session before closing: ${JSON.stringify(outcome.messages)}`,
        );
      }
    });
  }
});

describe('messages over polling', () => {
  // Transports > HTTP long-polling > Sending data: success is 200 with `ok`.
  test('a POST is answered "ok" and its message echoed on the next GET', async () => {
    const sid = await openPollingSession();
    const response = await post(sid, '4hello');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'ok');
    assert.deepEqual(await pollPackets(sid, 1), ['4hello']);
  });

  test('a payload of several packets joined by \\x1e keeps them apart and in order', async () => {
    const sid = await openPollingSession();
    const packets = ['4test1', '4tést 2', '4€ 3 😀'];
    const response = await post(sid, packets.join(SEPARATOR));
    assert.equal(response.status, 200);
    assert.equal(response.body, 'ok');
    assert.deepEqual(await pollPackets(sid, packets.length), packets);
  });

  // Packet encoding > HTTP long-polling: binary payloads are `b` + base64.
  test('binary packets travel as b+base64', async () => {
    const sid = await openPollingSession();
    const response = await post(sid, `4hello${SEPARATOR}bAQIDBA==`);
    assert.equal(response.status, 200);
    assert.deepEqual(await pollPackets(sid, 2), ['4hello', 'bAQIDBA==']);
  });

  test('an invalid packet closes the session', async () => {
    const sid = await openPollingSession();
    // The reference answers 200 "ok" and then closes; the upstream suite also
    // allows 400 or a dropped connection.
    const response = await post(sid, 'abc').catch((error) => error);
    if (!(response instanceof Error)) assert.ok([200, 400].includes(response.status), `status ${response.status}`);
    await assertSessionClosed(sid);
  });

  // Transports > HTTP long-polling > Receiving data: "a client MUST NOT have
  // more than one active GET request. Should it happen, the server MUST
  // return an HTTP 400 error status and close the session."
  test('a second concurrent GET is refused and closes the session', async () => {
    const sid = await openPollingSession();
    const first = get(sid);
    await delay(SETTLE_MS);
    const second = await get(sid);
    // The reference answers 400; the upstream suite also allows 500.
    assert.ok([400, 500].includes(second.status), `status ${second.status}`);
    const pending = await first;
    assert.equal(pending.status, 200);
    assert.equal(pending.body, '1', 'the pending GET is ended with a close packet');
    await assertSessionClosed(sid);
  });

  test('an aborted GET closes the session', async () => {
    const sid = await openPollingSession();
    const controller = new AbortController();
    const pending = get(sid, { signal: controller.signal }).catch(() => {});
    await delay(SETTLE_MS);
    controller.abort();
    await pending;
    // Give the server time to see the connection go away; otherwise the next
    // GET could overlap the aborted one and be refused for that reason.
    await delay(SETTLE_MS);
    await assertSessionClosed(sid);
  });

  test('a POST of exactly maxPayload bytes is accepted and echoed', async () => {
    const sid = await openPollingSession();
    const packet = `4${'x'.repeat(MAX_PAYLOAD - 1)}`;
    const response = await post(sid, packet);
    assert.equal(response.status, 200);
    const [echo] = await pollPackets(sid, 1);
    assert.ok(echo === packet, `echo of ${echo.length} chars differs from the ${packet.length} sent`);
  });

  test('a POST over maxPayload is refused with 413 and never echoed', async () => {
    const sid = await openPollingSession();
    const response = await post(sid, `4${'x'.repeat(1_100_000)}`);
    assert.equal(response.status, 413);
    // The reference keeps the session open after a 413 (its next GET brings
    // the ping); closing it is just as acceptable. Either way the message
    // must not come back.
    const next = await get(sid);
    if (next.status === 400) {
      assertErrorAnswer(next, 1, 'Session ID unknown');
    } else {
      assert.equal(next.status, 200);
      assert.ok(!next.body.split(SEPARATOR).some((packet) => packet.startsWith('4')), 'no message expected');
    }
  });
});

describe('messages over websocket', () => {
  // Packet encoding > WebSocket: one packet per frame, binary sent as is.
  test('text and binary frames are echoed unchanged', async () => {
    const { socket } = await openWebSocketSession();
    socket.send('4hello');
    assert.equal(await nextNonPing(socket), '4hello');
    socket.send('4héllo € 😀');
    assert.equal(await nextNonPing(socket), '4héllo € 😀');
    socket.send(Buffer.from([1, 2, 3, 4]));
    const binary = await nextNonPing(socket);
    assert.ok(Buffer.isBuffer(binary), 'a binary frame comes back as a binary frame');
    assert.deepEqual(binary, Buffer.from([1, 2, 3, 4]));
    socket.ws.close();
  });

  test('an invalid packet closes the session', async () => {
    const { socket } = await openWebSocketSession();
    socket.send('abc');
    // Bounded by pingInterval so that a close caused by the heartbeat (the
    // test never answers pings) cannot pass for this one.
    await socket.nextClose({ timeoutMs: PING_INTERVAL });
  });
});

describe('heartbeat', () => {
  // Protocol > Heartbeat: the server pings every pingInterval; the client
  // answers each ping with a pong within pingTimeout.
  test('over polling: three rounds of ping and pong', async () => {
    const sid = await openPollingSession();
    for (let round = 0; round < 3; round++) {
      const start = Date.now();
      const ping = await get(sid, { timeoutMs: PING_INTERVAL + MARGIN });
      assert.equal(ping.status, 200);
      assert.equal(ping.body, '2');
      assert.ok(Date.now() - start >= PING_INTERVAL / 2, `ping ${round} came after ${Date.now() - start} ms`);
      const pong = await post(sid, '3');
      assert.equal(pong.status, 200);
      assert.equal(pong.body, 'ok');
    }
  });

  test('over websocket: three rounds of ping and pong', async () => {
    const { socket } = await openWebSocketSession();
    for (let round = 0; round < 3; round++) {
      const start = Date.now();
      assert.equal(await socket.nextMessage({ timeoutMs: PING_INTERVAL + MARGIN }), '2');
      assert.ok(Date.now() - start >= PING_INTERVAL / 2, `ping ${round} came after ${Date.now() - start} ms`);
      socket.send('3');
    }
    socket.ws.close();
  });

  // "If the server does not receive a pong packet back, then it SHOULD
  // consider that the connection is closed."
  test('over polling: no pong closes the session after pingInterval + pingTimeout', async () => {
    const sid = await openPollingSession();
    // The session must be gone once the first ping went unanswered for
    // pingTimeout; 100 ms more keeps the GET clear of the server's own timer.
    await delay(PING_INTERVAL + PING_TIMEOUT + 100);
    await assertSessionClosed(sid);
  });

  test('over websocket: no pong closes the connection within pingTimeout', async () => {
    const { socket } = await openWebSocketSession();
    assert.equal(await socket.nextMessage({ timeoutMs: PING_INTERVAL + MARGIN }), '2');
    const pingAt = Date.now();
    await socket.nextClose({ timeoutMs: PING_TIMEOUT + MARGIN });
    const elapsed = Date.now() - pingAt;
    assert.ok(elapsed >= PING_TIMEOUT / 2, `closed ${elapsed} ms after the ping, before pingTimeout`);
  });
});

describe('close', () => {
  test('over polling: a close packet ends the pending GET with a noop, then the session is gone', async () => {
    const sid = await openPollingSession();
    const pending = get(sid);
    await delay(SETTLE_MS);
    const response = await post(sid, '1');
    assert.equal(response.status, 200);
    assert.equal(response.body, 'ok');
    const poll = await pending;
    assert.equal(poll.status, 200);
    assert.equal(poll.body, '6');
    await assertSessionClosed(sid);
  });

  // The reference server (engine.io 6.6) ignores a close packet received over
  // WebSocket: the session ends only when the unanswered heartbeat times out.
  // So the bound is pingInterval + pingTimeout, like the upstream suite's.
  test('over websocket: after a close packet the connection is closed', async () => {
    const { socket } = await openWebSocketSession();
    socket.send('1');
    await socket.nextClose({ timeoutMs: PING_INTERVAL + PING_TIMEOUT + MARGIN });
  });
});

describe('upgrade', () => {
  // Protocol > Upgrade: the server answers `2probe` with `3probe` and ends a
  // pending GET with a noop; the client completes with `5`.
  test('polling to websocket: 2probe/3probe, pending GET gets a noop, 5, then echo over websocket', async () => {
    const sid = await openPollingSession();
    const pending = get(sid);
    await delay(SETTLE_MS);
    const socket = connectWebSocket(websocketUrl(sid));
    await socket.opened;
    socket.send('2probe');
    assert.equal(await socket.nextMessage(), '3probe');
    const poll = await pending;
    assert.equal(poll.status, 200);
    assert.equal(poll.body, '6');
    socket.send('5');
    socket.send('4hello');
    assert.equal(await nextNonPing(socket), '4hello');
    socket.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await nextNonPing(socket), Buffer.from([1, 2, 3]));
    socket.ws.close();
  });

  test('polling with the same sid after the upgrade is refused', async () => {
    const sid = await openPollingSession();
    const socket = await upgradeSession(sid);
    assertErrorAnswer(await get(sid), 3, 'Bad request');
    assertErrorAnswer(await post(sid, '4hello'), 3, 'Bad request');
    socket.send('4still here');
    assert.equal(await nextNonPing(socket), '4still here');
    socket.ws.close();
  });

  // Transports > WebSocket: "A client MUST NOT open more than one WebSocket
  // connection per session. Should it happen, the server MUST close the
  // WebSocket connection." The reference (engine.io 6.6, onWebSocket)
  // completes the handshake, then closes with no status (1005) and no packet.
  test('a second websocket with the same sid after the upgrade is accepted, then closed', async () => {
    const sid = await openPollingSession();
    const socket = await upgradeSession(sid);
    assert.deepEqual(await refusedWebSocket(websocketUrl(sid)), { code: 1005, messages: [] });
    socket.send('4still here');
    assert.equal(await nextNonPing(socket), '4still here');
    socket.ws.close();
  });

  // The reference hands every upgrade request to `ws` first, then closes a
  // WebSocket whose transport cannot take one (polling), with or without a
  // sid; the session it names goes on.
  test('a websocket asking for transport=polling is accepted, then closed', async () => {
    const sid = await openPollingSession();
    const withSid = eioUrl({ EIO: '4', transport: 'polling', sid }, 'ws');
    assert.deepEqual(await refusedWebSocket(withSid), { code: 1005, messages: [] });
    const withoutSid = eioUrl({ EIO: '4', transport: 'polling' }, 'ws');
    assert.deepEqual(await refusedWebSocket(withoutSid), { code: 1005, messages: [] });
    assert.equal((await post(sid, '4still polling')).status, 200);
    assert.deepEqual(await pollPackets(sid, 1), ['4still polling']);
  });
});

describe('CORS', () => {
  // The reference engine.io sends no CORS headers unless configured to;
  // siobridge's conformance example allows any origin. Both must serve a
  // cross-origin GET, and any Access-Control-Allow-Origin must admit it.
  test('a GET with an Origin header is served', async () => {
    const origin = 'http://example.com';
    const response = await get(undefined, { headers: { origin } });
    assert.equal(response.status, 200);
    assertHandshake(parseOpenPacket(response.body), ['websocket']);
    const allowed = response.headers.get('access-control-allow-origin');
    if (allowed !== null) assert.ok(allowed === '*' || allowed === origin, `Access-Control-Allow-Origin: ${allowed}`);
  });
});
