// Engine.IO v3 (socket.io 2.x clients) spoken by hand with `fetch` and `ws`,
// against the echo server of the conformance contract started with
// allowEIO3 (SIOBRIDGE_ALLOW_EIO3=1), and one started without it.
//
// engine.io-protocol v3 (socketio/engine.io-protocol, branch v3), as
// engine.io 6.6 serves it with allowEIO3: payloads are `<length>:<packet>`
// with the length in UTF-16 code units, binary travels in binary bodies
// (per packet: 0 or 1, the length one decimal digit per byte, 255, the
// packet) or as `b4<base64>` for a client that asked for `b64=1`, and the
// heartbeat is the client's: it pings, the server answers pong, and a
// session with no ping for pingInterval + pingTimeout is closed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connectWebSocket, request } from '../lib/raw.mjs';
import { startServer } from '../lib/server.mjs';

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
// Slack on top of protocol timings for scheduling and I/O.
const MARGIN = 500;

let server;
let strict;
before(async () => {
  [server, strict] = await Promise.all([
    startServer({ env: { SIOBRIDGE_ALLOW_EIO3: '1' } }),
    startServer(),
  ]);
});
after(() => Promise.all([server?.stop(), strict?.stop()]));

const eioUrl = (base, query, scheme = 'http') =>
  `${base.url.replace(/^http/, scheme)}/engine.io/?${new URLSearchParams(query)}`;
const pollingUrl = (sid, extra = {}) => eioUrl(server, { EIO: '3', transport: 'polling', ...extra, ...(sid && { sid }) });

/** A GET or POST, resolving with the status, the media type and the body as a Buffer. */
async function exchange(url, init = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
  return {
    status: response.status,
    type: response.headers.get('content-type')?.split(';')[0],
    body: Buffer.from(await response.arrayBuffer()),
  };
}
const get = (sid) => exchange(pollingUrl(sid));
const post = (sid, body, type = 'text/plain;charset=UTF-8') =>
  exchange(pollingUrl(sid), { method: 'POST', body, headers: { 'content-type': type } });

/** Opens a v3 polling session; resolves with its sid and handshake. */
async function open(extra = {}) {
  const { status, type, body } = await exchange(pollingUrl(undefined, extra));
  assert.equal(status, 200);
  assert.equal(type, 'text/plain');
  const text = body.toString('utf8');
  const [, length, packet] = text.match(/^(\d+):(0\{.*\})$/) ?? [];
  assert.ok(packet, `not a v3 OPEN payload: ${text}`);
  assert.equal(Number(length), packet.length);
  return { sid: JSON.parse(packet.slice(1)).sid, handshake: JSON.parse(packet.slice(1)) };
}

async function assertSessionClosed(sid) {
  const { status, body } = await get(sid);
  assert.equal(status, 400);
  assert.deepEqual(JSON.parse(body), { code: 1, message: 'Session ID unknown' });
}

describe('handshake', () => {
  test('without allowEIO3, v3 and a missing EIO are refused with code 5', async () => {
    for (const query of [{ EIO: '3', transport: 'polling' }, { transport: 'polling' }]) {
      const { status, body } = await exchange(eioUrl(strict, query));
      assert.equal(status, 400);
      assert.deepEqual(JSON.parse(body), { code: 5, message: 'Unsupported protocol version' });
    }
  });

  test('with allowEIO3, the OPEN packet is length-prefixed and has the v4 fields', async () => {
    const { handshake } = await open();
    assert.deepEqual(Object.keys(handshake).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(handshake.upgrades, ['websocket']);
    assert.equal(handshake.pingInterval, PING_INTERVAL);
    assert.equal(handshake.pingTimeout, PING_TIMEOUT);
  });

  test('with allowEIO3, EIO=4 clients still get v4', async () => {
    const { body } = await exchange(eioUrl(server, { EIO: '4', transport: 'polling' }));
    assert.match(body.toString(), /^0\{"sid":/);
  });
});

describe('polling payloads', () => {
  test('client pings are answered with pongs', async () => {
    const { sid } = await open();
    assert.equal((await post(sid, '1:2')).body.toString(), 'ok');
    assert.equal((await get(sid)).body.toString(), '1:3');
  });

  test('text messages are echoed with UTF-16 lengths', async () => {
    const { sid } = await open();
    const body = '2:4a3:4😀2:4€';
    assert.equal((await post(sid, body)).status, 200);
    const echoed = await get(sid);
    assert.equal(echoed.type, 'text/plain');
    assert.equal(echoed.body.toString(), body);
  });

  test('binary goes both ways as a binary body', async () => {
    const { sid } = await open();
    const body = Buffer.from([1, 4, 255, 4, 1, 2, 3, 0, 2, 255, 0x34, 0x78]);
    assert.equal((await post(sid, body, 'application/octet-stream')).status, 200);
    const echoed = await get(sid);
    assert.equal(echoed.type, 'application/octet-stream');
    assert.deepEqual([...echoed.body], [...body]);
  });

  test('with b64=1, binary comes back as b4<base64> text', async () => {
    const { sid } = await open({ b64: '1' });
    assert.equal((await post(sid, '10:b4AQIDBA==')).status, 200);
    const echoed = await get(sid);
    assert.equal(echoed.type, 'text/plain');
    assert.equal(echoed.body.toString(), '10:b4AQIDBA==');
  });

  test('a payload with a wrong length closes the session', async () => {
    const { sid } = await open();
    // The reference answers 200 "ok" and then closes.
    const { status } = await post(sid, '5:4a');
    assert.ok([200, 400].includes(status), `status ${status}`);
    await assertSessionClosed(sid);
  });

  test('a pong from the client closes the session ("invalid heartbeat direction")', async () => {
    const { sid } = await open();
    await post(sid, '1:3');
    await assertSessionClosed(sid);
  });
});

describe('heartbeat', () => {
  test('a client that pings keeps its session; one that stops loses it', async () => {
    const { sid } = await open();
    for (let round = 0; round < 4; round++) {
      await delay(PING_INTERVAL);
      await post(sid, '1:2');
      assert.equal((await get(sid)).body.toString(), '1:3');
    }
    await delay(PING_INTERVAL + PING_TIMEOUT + MARGIN);
    await assertSessionClosed(sid);
  });
});

describe('websocket', () => {
  test('the upgrade: 2probe, 3probe, NOOP to the poll, 5; then binary frames carry the type byte', async () => {
    const { sid } = await open({ b64: '1' });
    const poll = get(sid);
    const socket = connectWebSocket(eioUrl(server, { EIO: '3', transport: 'websocket', sid }, 'ws'));
    await socket.opened;
    socket.send('2probe');
    assert.equal(await socket.nextMessage(), '3probe');
    assert.equal((await poll).body.toString(), '1:6');
    socket.send('5');
    // The WebSocket's own request asked for no b64: binary frames.
    socket.send(Buffer.from([4, 9, 8]));
    assert.deepEqual([...(await socket.nextMessage())], [4, 9, 8]);
    socket.send('b4AQI=');
    assert.deepEqual([...(await socket.nextMessage())], [4, 1, 2]);
    socket.send('2');
    assert.equal(await socket.nextMessage(), '3');
    socket.send('4hello');
    assert.equal(await socket.nextMessage(), '4hello');
    socket.ws.close();
  });

  test('a WebSocket session opened with b64=1 gets binary as b4<base64> text', async () => {
    const socket = connectWebSocket(eioUrl(server, { EIO: '3', transport: 'websocket', b64: '1' }, 'ws'));
    await socket.opened;
    assert.match(await socket.nextMessage(), /^0\{"sid":/);
    socket.send(Buffer.from([4, 1, 2]));
    assert.equal(await socket.nextMessage(), 'b4AQI=');
    socket.ws.close();
  });
});
