// The binary behind a proxy (--trust-proxy): the client address comes from
// X-Forwarded-For / Forwarded only when the TCP peer is trusted, walked right
// to left past trusted hops. The per-address session cap then counts the
// forwarded client; from an untrusted peer the same headers are ignored.
// The "proxy" here is the test itself, sending the headers from 127.0.0.1
// (test/nginx.test.mjs puts a real nginx in front).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBridge } from '../lib/bridge.mjs';
import { eventually } from '../lib/hostile.mjs';
import { request } from '../lib/raw.mjs';
import { once } from '../lib/wait.mjs';

const ONLY_SIOBRIDGE = { skip: !process.env.SIOBRIDGE_BIN && 'the reference bridge has no --trust-proxy (Node reads no forwarding header)' };
const TOO_MANY = { status: 403, body: { code: 4, message: 'Too many sessions from this address' } };

/** A polling handshake from 127.0.0.1 with `headers`: `{ status, sid }` or the refusal. */
async function handshake(bridge, headers = {}) {
  const response = await request(`${bridge.url}/socket.io/?EIO=4&transport=polling`, { headers });
  if (response.status === 200) return { status: 200, sid: JSON.parse(response.body.slice(1)).sid };
  return { status: response.status, body: JSON.parse(response.body) };
}

/** Closes a polling session (CLOSE packet), giving its place back. */
async function close(bridge, sid) {
  const response = await request(`${bridge.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' });
  assert.equal(response.status, 200);
}

/** Starts the binary with one session per address, and these flags. */
async function bridgeWith(args) {
  return startBridge({
    args: ['--max-sessions-per-ip', '1', '--log-format', 'json', ...args],
    env: { SIOBRIDGE_LOG: 'debug' },
  });
}

/** The parsed JSON log lines of `bridge` with `event`. */
function events(bridge, event) {
  return bridge.stderrLines().map((line) => JSON.parse(line)).filter((entry) => entry.event === event);
}

/** The log line of `event` for session `sid`, once it is written (the driver logs on its own time). */
function logged(bridge, event, sid) {
  return eventually(() => events(bridge, event).find((e) => e.sid === sid), { what: `the ${event} line of ${sid}` });
}

describe('peer trusted (--trust-proxy 127.0.0.1)', ONLY_SIOBRIDGE, () => {
  let bridge;
  before(async () => {
    bridge = await bridgeWith(['--trust-proxy', '127.0.0.1']);
  });
  after(() => bridge?.stop());

  test('the session cap counts the forwarded address, not the proxy', async () => {
    const a = await handshake(bridge, { 'X-Forwarded-For': '203.0.113.1' });
    const b = await handshake(bridge, { 'X-Forwarded-For': '203.0.113.2' });
    const own = await handshake(bridge);
    for (const opened of [a, b, own]) assert.equal(opened.status, 200, JSON.stringify(opened));
    assert.deepEqual(await handshake(bridge, { 'X-Forwarded-For': '203.0.113.1' }), TOO_MANY);
    // A spoofed entry to the left of what the trusted proxy appended is never reached.
    assert.deepEqual(await handshake(bridge, { 'X-Forwarded-For': '198.51.100.99, 203.0.113.1' }), TOO_MANY);
    // RFC 7239 Forwarded, when there is no X-Forwarded-For.
    assert.deepEqual(await handshake(bridge, { Forwarded: 'for="203.0.113.2:4711";proto=http' }), TOO_MANY);
    const c = await handshake(bridge, { Forwarded: 'for=203.0.113.3' });
    assert.equal(c.status, 200);
    // Sessions are logged under the forwarded address.
    assert.equal((await logged(bridge, 'session_open', a.sid)).address, '203.0.113.1');
    assert.equal((await logged(bridge, 'session_open', c.sid)).address, '203.0.113.3');
    assert.equal((await logged(bridge, 'session_open', own.sid)).address, '127.0.0.1');
    // Places are given back under the same address.
    await close(bridge, a.sid);
    const again = await eventually(async () => {
      const retry = await handshake(bridge, { 'X-Forwarded-For': '203.0.113.1' });
      return retry.status === 200 && retry;
    }, { what: 'the place of 203.0.113.1 to free up' });
    for (const { sid } of [again, b, own, c]) await close(bridge, sid);
  });

  for (const transport of ['polling', 'websocket']) {
    test(`socket.io-client over ${transport}: the socket's handshake address is the forwarded one`, async (t) => {
      const client = `198.51.100.${transport === 'polling' ? 10 : 11}`;
      const socket = io(bridge.url, {
        transports: [transport],
        extraHeaders: { 'X-Forwarded-For': client },
        reconnection: false,
        forceNew: true,
      });
      t.after(() => socket.close());
      await once(socket, 'connect', { timeoutMs: 5000 });
      const connect = await eventually(() => events(bridge, 'connect').find((e) => e.socket === socket.id), { what: 'the connect log line' });
      assert.equal(connect.address, client);
      // Over the cap from that address, whatever the transport.
      const second = io(bridge.url, { transports: [transport], extraHeaders: { 'X-Forwarded-For': client }, reconnection: false, forceNew: true });
      t.after(() => second.close());
      const [error] = await once(second, 'connect_error', { timeoutMs: 5000 });
      assert.ok(error, 'refused');
    });
  }
});

describe('peer not trusted (--trust-proxy 10.0.0.0/8, the test connects from 127.0.0.1)', ONLY_SIOBRIDGE, () => {
  let bridge;
  before(async () => {
    bridge = await bridgeWith(['--trust-proxy', '10.0.0.0/8']);
  });
  after(() => bridge?.stop());

  test('a spoofed X-Forwarded-For or Forwarded is ignored: the peer is the client', async () => {
    const first = await handshake(bridge, { 'X-Forwarded-For': '203.0.113.1' });
    assert.equal(first.status, 200);
    assert.deepEqual(await handshake(bridge, { 'X-Forwarded-For': '203.0.113.2' }), TOO_MANY);
    assert.deepEqual(await handshake(bridge, { Forwarded: 'for=203.0.113.3' }), TOO_MANY);
    assert.equal((await logged(bridge, 'session_open', first.sid)).address, '127.0.0.1');
    await close(bridge, first.sid);
  });
});

describe('no --trust-proxy (the default)', ONLY_SIOBRIDGE, () => {
  let bridge;
  before(async () => {
    bridge = await bridgeWith([]);
  });
  after(() => bridge?.stop());

  test('forwarding headers are ignored', async () => {
    const first = await handshake(bridge, { 'X-Forwarded-For': '203.0.113.1' });
    assert.equal(first.status, 200);
    assert.deepEqual(await handshake(bridge, { 'X-Forwarded-For': '203.0.113.2' }), TOO_MANY);
    await close(bridge, first.sid);
  });
});
