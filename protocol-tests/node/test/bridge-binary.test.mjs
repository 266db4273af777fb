// The `siobridge` binary's contract (README.md, "The bridge contract"): the
// command line and its environment variables, the namespaces it serves, the
// directual HTTP API's answers and its token, the refusal to expose that API
// unsafely, /healthz, /metrics and shutdown on SIGTERM and SIGINT.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { runBridge, startBridge } from '../lib/bridge.mjs';
import { EVT, SCENARIO_TIMEOUT_MS, bridgeClients, postApi, settle } from '../lib/bridge-clients.mjs';
import { request } from '../lib/raw.mjs';
import { once } from '../lib/wait.mjs';

const TEST = { timeout: SCENARIO_TIMEOUT_MS };
// Upper bound for a graceful shutdown (not a speed requirement).
const SHUTDOWN_BOUND_MS = 15_000;
const LOOPBACK = ['--listen', '127.0.0.1:0'];
const RESERVED_EVENTS = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];

/** Runs `body(clients, bridge)` against a bridge started with `args`, over websocket. */
async function withBridge(t, options, body) {
  const bridge = await startBridge(options);
  const clients = bridgeClients(bridge.url, 'websocket');
  t.after(async () => {
    clients.close();
    await bridge.stop();
  });
  return body(clients, bridge);
}

/** The digital.auto round trip on `nsp`: a request reaches the provider. */
async function assertDigitalAuto(clients, nsp) {
  const names = [`P${nsp}`, `C${nsp}`];
  const { [names[0]]: P, [names[1]]: C } = await clients.connect(names, { nsp });
  P.emit('register_provider', { provider_id: 'P1', name: 'Prov' });
  await settle();
  C.emit('request_provider', { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
  await clients.expect({ [P.name]: [['new_request', { request_from: C.id, to_provider_id: 'P1', cmd: 'double_me', data: 21 }]] });
}

async function assertInvalidNamespace(clients, nsp) {
  const error = await clients.connectError(nsp);
  assert.equal(error.message, 'Invalid namespace', `CONNECT to ${nsp}`);
}

async function getJson(url) {
  const response = await request(url);
  return { status: response.status, contentType: response.contentType, body: JSON.parse(response.body) };
}

describe('bridge binary: namespaces and profiles', () => {
  test('with no --profile, / is the digital.auto bridge and nothing else is served', TEST, (t) => withBridge(t, {}, async (clients) => {
    await assertDigitalAuto(clients, '/');
    await assertInvalidNamespace(clients, '/chat');
  }));

  test('a namespace with no profile is refused with "Invalid namespace", / included', TEST, (t) => withBridge(t, { args: ['--profile', '/chat=chat'] }, async (clients) => {
    await assertInvalidNamespace(clients, '/');
    await assertInvalidNamespace(clients, '/nope');
    // The mounted one is served.
    const { A } = await clients.connect('A', { nsp: '/chat' });
    A.emit('message', 'hi');
    await clients.expect({ A: [['message', 'hi']] });
  }));

  test('several profiles mounted at once, each with its own semantics', TEST, (t) => withBridge(t, {
    args: ['--profile', '/=digital-auto', '--profile', '/hubtel=hubtel', '--profile', '/chat=chat', '--profile', '/d=directual', '--profile', '/d2=directual'],
  }, async (clients, bridge) => {
    await assertDigitalAuto(clients, '/');

    const { H } = await clients.connect('H', { nsp: '/hubtel' });
    const envelope = { data: { message: '', roomId: null, roomChannel: 'ch1' }, time: 't', clientId: H.id, source: { channel: 'ch1' } };
    H.emit('join-channel', envelope);
    await clients.expect({ H: [['join-channel', envelope], ['online-users', { roomChannel: 'ch1', count: 1, total: 1 }]] });

    const { K } = await clients.connect('K', { nsp: '/chat' });
    K.emit('message', 'hi');
    await clients.expect({ K: [['message', 'hi']] });

    // Directual: sessions and pushes are shared by every directual mount.
    assert.equal((await clients.connectError('/d')).message, 'unauthorized');
    const session = await postApi(bridge.url, '/api/v1/sessions', { app_id: 'app1', user_id: 'u1' });
    assert.equal(session.status, 200);
    assert.equal(session.body.status, 'OK');
    assert.equal(typeof session.body.session_id, 'string');
    const auth = { app_id: 'app1', session_id: session.body.session_id };
    await clients.connect('D1', { nsp: '/d', auth });
    await clients.connect('D2', { nsp: '/d2', auth });
    const push = await postApi(bridge.url, '/api/v1/push', { app_id: 'app1', user_id: 'u1', event: 'alert', message: { message: 'both' } });
    assert.deepEqual({ status: push.status, body: push.body }, { status: 200, body: { status: 'OK', delivered: 2 } });
    await clients.expect({ D1: [['alert', { message: 'both' }]], D2: [['alert', { message: 'both' }]] });

    await assertInvalidNamespace(clients, '/nope');
  }));

  test('the environment variables configure it when the flags are absent', TEST, (t) => withBridge(t, {
    listen: null,
    env: { SIOBRIDGE_LISTEN: '127.0.0.1:0', SIOBRIDGE_PROFILES: '/chat=chat,/d=directual', SIOBRIDGE_API_TOKEN: 'env-token', SIOBRIDGE_LOG: 'debug' },
  }, async (clients, bridge) => {
    assert.equal(bridge.host, '127.0.0.1');
    await assertInvalidNamespace(clients, '/');
    const { A } = await clients.connect('A', { nsp: '/chat' });
    A.emit('message', 'hi');
    await clients.expect({ A: [['message', 'hi']] });
    const body = { app_id: 'app1', user_id: 'u1' };
    assert.equal((await postApi(bridge.url, '/api/v1/sessions', body)).status, 401);
    assert.equal((await postApi(bridge.url, '/api/v1/sessions', body, { token: 'env-token' })).status, 200);
  }));
});

describe('bridge binary: bad command lines', () => {
  const cases = [
    { name: 'an unknown flag', args: [...LOOPBACK, '--bogus'] },
    { name: '--profile without a value', args: [...LOOPBACK, '--profile'] },
    { name: 'an unknown profile name', args: [...LOOPBACK, '--profile', '/x=nope'], mentions: 'nope' },
    { name: '--profile without "="', args: [...LOOPBACK, '--profile', 'chat'] },
    { name: 'a namespace not starting with "/"', args: [...LOOPBACK, '--profile', 'x=chat'] },
    { name: 'an unknown profile name in SIOBRIDGE_PROFILES', args: LOOPBACK, env: { SIOBRIDGE_PROFILES: '/=bogus' }, mentions: 'bogus' },
    { name: '--listen without a value', args: ['--listen'] },
    { name: 'a --listen that is not an address', args: ['--listen', 'not-an-address'] },
  ];
  for (const { name, args, env, mentions } of cases) {
    test(`${name}: exit status 2 and a message on stderr`, TEST, async () => {
      const result = await runBridge({ args, env });
      assert.equal(result.code, 2, `exit status for ${JSON.stringify(args)} (stderr: ${result.stderr})`);
      assert.ok(result.stderr.trim().length > 0, 'a message on stderr');
      assert.doesNotMatch(result.stdout, /listening on/);
      if (mentions) assert.match(result.stderr, new RegExp(mentions), 'the message names the culprit');
    });
  }

  test('--help exits 0 and names the flags and their environment variables', TEST, async () => {
    const result = await runBridge({ args: ['--help'] });
    assert.equal(result.code, 0);
    const text = result.stdout + result.stderr;
    for (const word of ['--listen', '--profile', '--api-token', '--cors-origin', 'SIOBRIDGE_PROFILES', 'SIOBRIDGE_API_TOKEN']) {
      assert.ok(text.includes(word), `--help mentions ${word}`);
    }
  });
});

describe('bridge binary: the HTTP API is never open beyond loopback', () => {
  test('a directual profile on 0.0.0.0 without a token: refuses to start, saying it needs the token', TEST, async () => {
    const result = await runBridge({ args: ['--listen', '0.0.0.0:0', '--profile', '/d=directual'] });
    assert.equal(result.code, 2, `exit status (stderr: ${result.stderr})`);
    assert.match(result.stderr, /token/i);
    assert.doesNotMatch(result.stdout, /listening on/);
  });

  test('a directual profile on 0.0.0.0 with --api-token starts', TEST, async (t) => {
    const bridge = await startBridge({ listen: '0.0.0.0:0', args: ['--profile', '/d=directual', '--api-token', 'T'] });
    t.after(() => bridge.stop());
    assert.equal(bridge.host, '0.0.0.0');
    const sessions = await postApi(bridge.url, '/api/v1/sessions', { app_id: 'a', user_id: 'u' });
    assert.equal(sessions.status, 401);
  });

  test('0.0.0.0 without a directual profile starts without a token', TEST, async (t) => {
    const bridge = await startBridge({ listen: '0.0.0.0:0', args: ['--profile', '/chat=chat'] });
    t.after(() => bridge.stop());
    assert.equal((await getJson(`${bridge.url}/healthz`)).status, 200);
  });
});

describe('bridge binary: the directual HTTP API', () => {
  let bridge;
  let tokenBridge;
  before(async () => {
    [bridge, tokenBridge] = await Promise.all([
      startBridge({ args: ['--profile', '/d=directual'] }),
      startBridge({ args: ['--profile', '/d=directual', '--api-token', 'T0ken'] }),
    ]);
  });
  after(() => Promise.all([bridge?.stop(), tokenBridge?.stop()]));

  const assertBadRequest = (answer, name) => {
    assert.equal(answer.status, 400, `${name}: status (body ${JSON.stringify(answer.body)})`);
    assert.match(answer.contentType ?? '', /application\/json/, `${name}: content type`);
    assert.equal(answer.body?.status, 'ERR', `${name}: body ${JSON.stringify(answer.body)}`);
    assert.equal(typeof answer.body.message, 'string', `${name}: message`);
  };

  test('POST /api/v1/sessions: a given session_id is kept, a missing one generated', TEST, async () => {
    const given = await postApi(bridge.url, '/api/v1/sessions', { app_id: 'a', user_id: 'u', session_id: 'mine' });
    assert.deepEqual({ status: given.status, body: given.body }, { status: 200, body: { status: 'OK', session_id: 'mine' } });
    assert.match(given.contentType ?? '', /application\/json/);
    const generated = await postApi(bridge.url, '/api/v1/sessions', { app_id: 'a', user_id: 'u' });
    assert.equal(generated.status, 200);
    assert.equal(generated.body.status, 'OK');
    assert.ok(typeof generated.body.session_id === 'string' && generated.body.session_id.length > 0);
    const other = await postApi(bridge.url, '/api/v1/sessions', { app_id: 'a', user_id: 'u' });
    assert.notEqual(other.body.session_id, generated.body.session_id);
  });

  test('POST /api/v1/sessions: bad requests get 400', TEST, async () => {
    const cases = {
      'missing app_id': { user_id: 'u' },
      'missing user_id': { app_id: 'a' },
      'empty app_id': { app_id: '', user_id: 'u' },
      'empty user_id': { app_id: 'a', user_id: '' },
      'a number app_id': { app_id: 5, user_id: 'u' },
      'a non-JSON body': 'app_id=a&user_id=u',
    };
    for (const [name, body] of Object.entries(cases)) {
      assertBadRequest(await postApi(bridge.url, '/api/v1/sessions', body), name);
    }
  });

  test('POST /api/v1/push: bad requests get 400', TEST, async () => {
    const good = { app_id: 'a', user_id: 'u', event: 'alert', message: 'm' };
    const without = (key) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key));
    const cases = {
      'a non-JSON body': '{"app_id":',
      'missing event': without('event'),
      'event ""': { ...good, event: '' },
      'event 5': { ...good, event: 5 },
      ...Object.fromEntries(RESERVED_EVENTS.map((event) => [`reserved event "${event}"`, { ...good, event }])),
      'missing user_id': without('user_id'),
      'user_id ""': { ...good, user_id: '' },
      'missing app_id': without('app_id'),
    };
    for (const [name, body] of Object.entries(cases)) {
      assertBadRequest(await postApi(bridge.url, '/api/v1/push', body), name);
    }
    // The same push, well formed, is accepted.
    const ok = await postApi(bridge.url, '/api/v1/push', good);
    assert.deepEqual({ status: ok.status, body: ok.body }, { status: 200, body: { status: 'OK', delivered: 0 } });
  });

  test('--api-token: without "Authorization: Bearer <token>" the API answers 401', TEST, async () => {
    const session = { app_id: 'a', user_id: 'u', session_id: 'st' };
    const push = { app_id: 'a', user_id: 'u', event: 'alert' };
    const unauthorized = { status: 401, body: { status: 'ERR', message: 'unauthorized' } };
    for (const token of [undefined, 'wrong', 't0ken']) {
      for (const [path, body] of [['/api/v1/sessions', session], ['/api/v1/push', push]]) {
        const answer = await postApi(tokenBridge.url, path, body, { token });
        assert.deepEqual({ status: answer.status, body: answer.body }, unauthorized, `${path} with token ${token}`);
      }
    }
  });

  test('--api-token: with the bearer token the API works end to end', TEST, async (t) => {
    const created = await postApi(tokenBridge.url, '/api/v1/sessions', { app_id: 'a', user_id: 'u', session_id: 'st' }, { token: 'T0ken' });
    assert.deepEqual({ status: created.status, body: created.body }, { status: 200, body: { status: 'OK', session_id: 'st' } });
    const clients = bridgeClients(tokenBridge.url, 'websocket');
    t.after(() => clients.close());
    await clients.connect('U', { nsp: '/d', auth: { app_id: 'a', session_id: 'st' } });
    const pushed = await postApi(tokenBridge.url, '/api/v1/push', { app_id: 'a', user_id: 'u', event: 'alert', message: 1 }, { token: 'T0ken' });
    assert.deepEqual({ status: pushed.status, body: pushed.body }, { status: 200, body: { status: 'OK', delivered: 1 } });
    await clients.expect({ U: [['alert', 1]] });
  });
});

/** Parses Prometheus text into samples `{ name, labels, value }`. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`. */
function metric(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Re-reads /metrics until `condition(samples)` holds; fails after EVT. */
async function metricsUntil(url, condition, what) {
  const deadline = Date.now() + EVT;
  for (;;) {
    const samples = parseMetrics((await request(`${url}/metrics`)).body);
    if (condition(samples)) return samples;
    if (Date.now() > deadline) assert.fail(`/metrics never showed ${what}:\n${samples.map((s) => `${s.name} ${JSON.stringify(s.labels)} ${s.value}`).join('\n')}`);
    await sleep(50);
  }
}

describe('bridge binary: operations', () => {
  let bridge;
  before(async () => {
    bridge = await startBridge({ args: ['--profile', '/=digital-auto', '--profile', '/chat=chat'] });
  });
  after(() => bridge?.stop());

  test('GET /healthz answers 200 {"status":"ok"}', TEST, async () => {
    const health = await getJson(`${bridge.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
  });

  test('the HTTP API is not served without a directual profile', TEST, async () => {
    assert.equal((await postApi(bridge.url, '/api/v1/sessions', { app_id: 'a', user_id: 'u' })).status, 404);
    assert.equal((await postApi(bridge.url, '/api/v1/push', { app_id: 'a', user_id: 'u', event: 'e' })).status, 404);
  });

  test('GET /metrics answers Prometheus text with every siobridge metric', TEST, async () => {
    const response = await request(`${bridge.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.contentType ?? '', /^text\/plain/);
    assert.match(response.contentType ?? '', /version=0\.0\.4/);
    for (const name of ['siobridge_connections', 'siobridge_sockets', 'siobridge_packets_total', 'siobridge_bytes_total',
      'siobridge_upgrades_total', 'siobridge_disconnects_total', 'siobridge_slow_consumers_total']) {
      assert.match(response.body, new RegExp(`^(# (HELP|TYPE) )?${name}\\b`, 'm'), `${name} is exported`);
    }
    parseMetrics(response.body);
  });

  test('/metrics counts connections by transport, sockets by namespace and profile, traffic and upgrades', TEST, async (t) => {
    const before = parseMetrics((await request(`${bridge.url}/metrics`)).body);
    const clients = bridgeClients(bridge.url, 'websocket');
    t.after(() => clients.close());
    const { A } = await clients.connect('A', { nsp: '/chat' });
    A.emit('message', 'hi');
    await clients.expect({ A: [['message', 'hi']] });
    await metricsUntil(bridge.url, (s) => metric(s, 'siobridge_connections', { transport: 'websocket' }) === 1
      && metric(s, 'siobridge_sockets', { namespace: '/chat', profile: 'chat' }) === 1
      && metric(s, 'siobridge_sockets', { namespace: '/', profile: 'digital-auto' }) === 0
      && metric(s, 'siobridge_packets_total', { direction: 'in' }) > metric(before, 'siobridge_packets_total', { direction: 'in' })
      && metric(s, 'siobridge_packets_total', { direction: 'out' }) > metric(before, 'siobridge_packets_total', { direction: 'out' })
      && metric(s, 'siobridge_bytes_total', { direction: 'in' }) > metric(before, 'siobridge_bytes_total', { direction: 'in' })
      && metric(s, 'siobridge_bytes_total', { direction: 'out' }) > metric(before, 'siobridge_bytes_total', { direction: 'out' }),
    'one websocket connection, one socket on /chat, and more packets and bytes both ways');

    // A client that starts on polling and upgrades.
    const upgrading = io(`${bridge.url}/`, { forceNew: true, reconnection: false, transports: ['polling', 'websocket'] });
    t.after(() => upgrading.disconnect());
    await once(upgrading.io.engine, 'upgrade', { timeoutMs: EVT });
    await metricsUntil(bridge.url, (s) => metric(s, 'siobridge_upgrades_total') >= metric(before, 'siobridge_upgrades_total') + 1
      && metric(s, 'siobridge_connections', { transport: 'websocket' }) === 2
      && metric(s, 'siobridge_sockets', { namespace: '/', profile: 'digital-auto' }) === 1,
    'one more upgrade, two websocket connections and one socket on /');

    A.disconnect();
    upgrading.disconnect();
    await metricsUntil(bridge.url, (s) => metric(s, 'siobridge_connections') === 0
      && metric(s, 'siobridge_sockets') === 0
      && metric(s, 'siobridge_disconnects_total') >= metric(before, 'siobridge_disconnects_total') + 2,
    'no connections, no sockets and two more disconnects');
  });
});

// The abuse limits (docs/limits.md): off by default, set on the command line,
// counted in /metrics. The Node oracle has no such flags: siobridge only.
describe('bridge binary: abuse limits', { skip: !process.env.SIOBRIDGE_BIN && 'the reference bridge has no abuse limits' }, () => {
  test('--event-rate: a socket over the rate is disconnected and counted', TEST, (t) => withBridge(t, { args: ['--event-rate', '5/5'] }, async (clients, bridge) => {
    const { A, B } = await clients.connect(['A', 'B']);
    const gone = once(A.socket, 'disconnect', { timeoutMs: EVT });
    for (let i = 0; i < 50; i += 1) A.emit('register_client', { master_provider_id: `P${i}` });
    assert.deepEqual(await gone, ['io server disconnect', undefined]);
    assert.ok(B.connected, 'the other socket is not affected');
    await metricsUntil(bridge.url, (s) => metric(s, 'siobridge_rate_limited_total') === 1
      && metric(s, 'siobridge_disconnects_total', { reason: 'rate limited' }) === 1,
    'one socket rate limited, one disconnect for "rate limited"');
  }));

  test('--max-sessions-per-ip: the handshake over the cap gets 403 code 4, and is counted', TEST, async (t) => {
    const bridge = await startBridge({ args: ['--max-sessions-per-ip', '2'] });
    t.after(() => bridge.stop());
    const handshake = () => request(`${bridge.url}/socket.io/?EIO=4&transport=polling`);
    for (let i = 0; i < 2; i += 1) assert.equal((await handshake()).status, 200);
    const refused = await handshake();
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), { code: 4, message: 'Too many sessions from this address' });
    await metricsUntil(bridge.url, (s) => metric(s, 'siobridge_refused_total', { cap: 'sessions_per_ip' }) === 1,
      'one handshake refused by the per-address cap');
  });

  test('a limit that does not parse exits with status 2', TEST, async () => {
    const { code, stderr } = await runBridge({ args: ['--event-rate', 'fast'] });
    assert.equal(code, 2);
    assert.match(stderr, /--event-rate/);
  });
});

describe('bridge binary: CORS', () => {
  const handshake = (url, origin) => request(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });

  test('any origin is allowed by default', TEST, async (t) => {
    const bridge = await startBridge();
    t.after(() => bridge.stop());
    const response = await handshake(bridge.url, 'http://anywhere.example');
    assert.equal(response.status, 200);
    assert.ok(['*', 'http://anywhere.example'].includes(response.headers.get('access-control-allow-origin')),
      `access-control-allow-origin: ${response.headers.get('access-control-allow-origin')}`);
  });

  test('--cors-origin allows only the listed origins', TEST, async (t) => {
    const bridge = await startBridge({ args: ['--cors-origin', 'http://a.example', '--cors-origin', 'http://b.example'] });
    t.after(() => bridge.stop());
    for (const origin of ['http://a.example', 'http://b.example']) {
      assert.equal((await handshake(bridge.url, origin)).headers.get('access-control-allow-origin'), origin);
    }
    const other = (await handshake(bridge.url, 'http://c.example')).headers.get('access-control-allow-origin');
    assert.ok(other !== '*' && other !== 'http://c.example', `access-control-allow-origin for another origin: ${other}`);
  });
});

/** Resolves as `promise` does, or rejects with `message()` after `timeoutMs`. */
function within(promise, timeoutMs, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('bridge binary: shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`exits with status 0 on ${signal} with clients connected over both transports`, TEST, async (t) => {
      const bridge = await startBridge({ args: ['--profile', '/=digital-auto', '--profile', '/chat=chat'] });
      t.after(() => bridge.stop());
      const websocket = bridgeClients(bridge.url, 'websocket');
      const polling = bridgeClients(bridge.url, 'polling');
      t.after(() => {
        websocket.close();
        polling.close();
      });
      const { W } = await websocket.connect('W');
      const { L } = await polling.connect('L', { nsp: '/chat' });
      const disconnected = Promise.all([W, L].map(({ socket }) => new Promise((resolve) => socket.once('disconnect', resolve))));
      // The bridge may take its own grace period to let sessions go; the
      // bound here is only there to end a bridge that never exits.
      assert.deepEqual(await bridge.stop(signal, { graceMs: SHUTDOWN_BOUND_MS }), { code: 0, signal: null, forced: false });
      await within(disconnected, EVT, () => `clients still connected ${EVT} ms after the bridge exited: websocket ${W.connected}, polling ${L.connected}`);
    });
  }

  // A polling session ends when its last GET has carried the CLOSE packet;
  // the shutdown grace period is only for clients that never come back. The
  // debug log shows each session's end: none may be cut off by the grace.
  test('every session, polling ones included, ends before the process does', { ...TEST, skip: !process.env.SIOBRIDGE_BIN && 'siobridge log lines' }, async (t) => {
    const bridge = await startBridge({ env: { SIOBRIDGE_LOG: 'debug' } });
    t.after(() => bridge.stop());
    const clients = bridgeClients(bridge.url, 'polling');
    t.after(() => clients.close());
    await clients.connect(['L1', 'L2']);
    assert.deepEqual(await bridge.stop('SIGTERM', { graceMs: SHUTDOWN_BOUND_MS }), { code: 0, signal: null, forced: false });
    const ended = bridge.stderr().match(/closed: server shutting down/g) ?? [];
    assert.equal(ended.length, 2, `both polling sessions reported their end; log:\n${bridge.stderr()}`);
  });
});
