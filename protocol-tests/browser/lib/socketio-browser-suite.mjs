// The scenarios of the socket.io-client 4.8 browser suites, and how they are
// run: test/socketio-browser.test.mjs (the JSON parser, page/index.html) and
// test/socketio-browser-msgpack.test.mjs (the bundle with
// socket.io-msgpack-parser, page/msgpack.html, against the test app with
// SIOBRIDGE_PARSER=msgpack) define the same suite with their own page,
// matrix row and server environment.
//
// Each scenario runs whole in a fresh tab (`ctx.inPage`, through
// page/harness.js) and returns what the page saw as plain data; the asserts
// are made here. Scenarios are grouped by matrix feature, and each test
// records its outcome for protocol-tests/MATRIX.md.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { recorded } from '../../node/lib/matrix.mjs';
import { startServer } from '../../node/lib/server.mjs';
import { SETUPS } from '../../node/lib/sio-scenarios.mjs';
import { launchChromium, startPageServer } from './browser.mjs';

// Upper bound for one scenario, page included.
const SCENARIO_TIMEOUT_MS = 15_000;
// How long a client must stay silent to count as not having received an event.
const QUIET_MS = 300;

// Arguments of every JSON kind, non-ASCII text included.
const JSON_ARGS = ['héllo, 世界 😀', 42, -1.5, { nested: { list: [1, 'two', false] }, empty: {} }, [1, 'two', null, []], null];

/** How page/harness.js `describe`s the ArrayBuffer of `bytes(length, seed)`. */
const arrayBuffer = (length, seed = 0) => ({
  type: 'ArrayBuffer',
  bytes: Array.from({ length }, (_, i) => (i * 7 + seed) % 256),
});

/** The transport a connected client ends up on with `setup`. */
const finalTransport = (setup) => (setup.transport === 'polling' ? 'polling' : 'websocket');

export const scenarios = {
  'connect-auth': {
    async 'connects to /, /custom and /private, welcomed with its id and auth'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const cases = [['/', null], ['/', { token: 'x', n: 1 }], ['/custom', { token: 'x' }], ['/private', { token: 'secret' }]];
        const results = [];
        for (const [nsp, auth] of cases) {
          const { socket, welcome } = await harness.connect(url, nsp, setup, auth ? { auth } : {});
          results.push({ nsp, auth, id: socket.id, connected: socket.connected, transport: socket.io.engine.transport.name, welcome });
        }
        return { origin: location.origin, results };
      });
      assert.notEqual(seen.origin, new URL(ctx.url).origin, 'the page must be cross-origin');
      for (const { nsp, auth, id, connected, transport, welcome } of seen.results) {
        assert.equal(connected, true);
        assert.ok(typeof id === 'string' && id.length > 0, `socket id ${JSON.stringify(id)}`);
        assert.equal(transport, finalTransport(ctx.setup));
        // The handshake auth is `{}` when the client sent none.
        assert.deepEqual(welcome, { id, nsp, auth: auth ?? {} });
      }
    },
  },

  'auth-error': {
    // The middleware's refusal reaches the page as `connect_error`, an Error
    // with the server's `data` attached.
    async '/private refuses a wrong or missing token with the error message and data'(ctx) {
      const outcomes = await ctx.inPage(({ url, setup }) => Promise.all(
        [{ auth: { token: 'wrong' } }, {}].map((options) => harness.attempt(url, '/private', setup, options)),
      ));
      for (const outcome of outcomes) {
        assert.deepEqual(outcome, { event: 'connect_error', connected: false, message: 'unauthorized', data: { code: 401 } });
      }
    },
  },

  'emit-ack': {
    async 'events and acknowledgements carry every JSON argument'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup, args }) => {
        const { socket } = await harness.connect(url, '/', setup);
        const acked = await harness.request(socket, 'echo', args[3]);
        // emitWithAck resolves with the first argument only; a callback sees all.
        const ackArgs = await new Promise((resolve, reject) => {
          socket.timeout(3000).emit('echo', ...args, (error, ...reply) => (error ? reject(error) : resolve(reply)));
        });
        const echoed = harness.once(socket, 'echo');
        socket.emit('echo', ...args);
        return { acked, ackArgs, eventArgs: await echoed };
      }, { args: JSON_ARGS });
      assert.deepEqual(seen, { acked: JSON_ARGS[3], ackArgs: JSON_ARGS, eventArgs: JSON_ARGS });
    },
  },

  'server-ack': {
    async 'the server gets the page\'s answer, or times out without one'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket } = await harness.connect(url, '/', setup);
        socket.on('question', (data, ack) => ack({ answer: data.n + 1 }));
        let silentAsked = 0;
        socket.on('silent', () => silentAsked++);
        const answered = await harness.request(socket, 'ask', { event: 'question', data: { n: 1 }, timeout: 2000 });
        const unanswered = await harness.request(socket, 'ask', { event: 'silent', data: null, timeout: 300 });
        return { answered, unanswered, silentAsked };
      });
      assert.deepEqual(seen, {
        answered: { err: null, reply: { answer: 2 } },
        unanswered: { err: 'operation has timed out', reply: null },
        silentAsked: 1,
      });
    },
  },

  binary: {
    // Page to server as ArrayBuffer and Uint8Array, server to page always as
    // ArrayBuffer: in acknowledgements, in events, and in an acknowledgement
    // the page sends back to a server-initiated event.
    async 'ArrayBuffers travel both ways byte for byte'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { bytes, describe } = harness;
        const { socket } = await harness.connect(url, '/', setup);
        const ackSingle = describe(await harness.request(socket, 'echo', bytes(256).buffer));
        const nested = { name: 'file.bin', content: bytes(1000, 1), parts: [bytes(3, 2), 'text'] };
        const ackNested = describe(await harness.request(socket, 'echo', nested));

        const echoed = harness.once(socket, 'echo');
        socket.emit('echo', bytes(10, 3).buffer, 'between', bytes(20, 4));
        const eventArgs = describe(await echoed);

        let asked;
        socket.on('question', (data, ack) => {
          asked = describe(data);
          ack(new Uint8Array(data).reverse().buffer);
        });
        const answer = describe(await harness.request(socket, 'ask', { event: 'question', data: bytes(64, 5), timeout: 2000 }));
        return { ackSingle, ackNested, eventArgs, asked, answer };
      });
      const question = arrayBuffer(64, 5);
      assert.deepEqual(seen, {
        ackSingle: arrayBuffer(256),
        ackNested: { name: 'file.bin', content: arrayBuffer(1000, 1), parts: [arrayBuffer(3, 2), 'text'] },
        eventArgs: [arrayBuffer(10, 3), 'between', arrayBuffer(20, 4)],
        asked: question,
        answer: { err: null, reply: { type: 'ArrayBuffer', bytes: [...question.bytes].reverse() } },
      });
    },
  },

  broadcast: {
    async 'broadcast reaches the other page client once, and not the sender'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup, quietMs }) => {
        const [a, b] = await Promise.all([harness.connect(url, '/', setup), harness.connect(url, '/', setup)]);
        const counts = { a: 0, b: 0 };
        a.socket.on('news', () => counts.a++);
        b.socket.on('news', () => counts.b++);
        const arrived = harness.once(b.socket, 'news');
        await harness.request(a.socket, 'broadcast', { event: 'news', data: { from: 'a' } });
        const [data] = await arrived;
        // A window in which a duplicate, or a copy to the sender, would show.
        await new Promise((resolve) => setTimeout(resolve, quietMs));
        return { data, counts };
      }, { quietMs: QUIET_MS });
      assert.deepEqual(seen, { data: { from: 'a' }, counts: { a: 0, b: 1 } });
    },
  },

  volatile: {
    // Right after a heartbeat a polling client has a GET pending and the next
    // ping is pingInterval away: nothing excuses dropping the packet.
    async 'a volatile event reaches a connected page'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket } = await harness.connect(url, '/', setup);
        await harness.once(socket.io.engine, 'ping', 1300);
        const arrived = harness.once(socket, 'fleeting');
        await harness.request(socket, 'volatile', { event: 'fleeting', data: { n: 7 } });
        return arrived;
      });
      assert.deepEqual(seen, [{ n: 7 }]);
    },
  },

  disconnect: {
    async 'server and client disconnects report their reasons'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const byServer = (await harness.connect(url, '/', setup)).socket;
        const serverSide = harness.once(byServer, 'disconnect');
        byServer.emit('disconnect-me');
        const [serverReason] = await serverSide;

        const byClient = (await harness.connect(url, '/', setup)).socket;
        const clientSide = harness.once(byClient, 'disconnect');
        byClient.disconnect();
        const [clientReason] = await clientSide;
        return { serverReason, stillConnected: byServer.connected, clientReason };
      });
      assert.deepEqual(seen, { serverReason: 'io server disconnect', stillConnected: false, clientReason: 'io client disconnect' });
    },
  },

  reconnect: {
    // Closing the Engine.IO connection is not a Socket.IO disconnect: the page
    // sees "transport close" and reconnects, as a new socket with a new id.
    async 'reconnects after the server drops the connection'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket, welcome } = await harness.connect(url, '/', setup, { reconnection: true, reconnectionDelay: 50 });
        const firstId = socket.id;
        const disconnected = harness.once(socket, 'disconnect');
        const reconnected = harness.once(socket, 'connect', 5000);
        const welcomedAgain = harness.once(socket, 'welcome', 5000);
        socket.emit('close-transport');
        const [reason] = await disconnected;
        await reconnected;
        const [secondWelcome] = await welcomedAgain;
        const echoed = await harness.request(socket, 'echo', 'again');
        return { firstId, secondId: socket.id, welcome, secondWelcome, reason, echoed };
      });
      assert.equal(seen.reason, 'transport close');
      assert.ok(typeof seen.secondId === 'string' && seen.secondId.length > 0);
      assert.notEqual(seen.secondId, seen.firstId);
      assert.deepEqual(seen.secondWelcome, { ...seen.welcome, id: seen.secondId });
      assert.equal(seen.echoed, 'again');
    },
  },

  'cors-refused': {
    // Against a server that lists its origins: the same page is refused when
    // its origin is not listed, and connects when it is.
    async 'a page from an unlisted origin is refused, from a listed one admitted'(ctx) {
      const refusing = await ctx.ownServer({ TESTAPP_CORS_ORIGINS: 'http://allowed.example' });
      const admitting = await ctx.ownServer({ TESTAPP_CORS_ORIGINS: `http://allowed.example,${ctx.origin}` });

      // The server itself refuses (the browser would also block a response
      // that merely lacked the allow header).
      const handshake = await fetch(`${refusing.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: ctx.origin } });
      assert.equal(handshake.status, 403);
      assert.deepEqual(await handshake.json(), { code: 4, message: 'Forbidden' });

      const [refused, admitted] = await ctx.inPage(
        ({ setup, urls }) => Promise.all(urls.map((url) => harness.attempt(url, '/', setup))),
        { urls: [refusing.url, admitting.url] },
      );
      // The first request of the setup fails: the polling handshake, or the
      // WebSocket handshake when websocket is the only transport.
      const message = ctx.setup.transport === 'websocket' ? 'websocket error' : 'xhr poll error';
      assert.deepEqual(refused, { event: 'connect_error', connected: false, message, data: null });
      assert.deepEqual(admitted, { event: 'connect', connected: true });
    },
  },
};

/**
 * Defines the suite: every scenario over polling, websocket and upgrade, in
 * `page` (a path of the page server: `/` or `/msgpack.html`), against a test
 * app started with `env`, recorded under `client` and `suite` for the matrix.
 * `title` names the describe blocks; `extra` adds scenarios by feature, and
 * `replace` takes the place of a feature's scenarios.
 *
 * What a scenario works with:
 * - `url`, `setup`, `origin`: the test app's URL, the transport setup, and
 *   the page's origin;
 * - `inPage(fn, extra)`: runs `fn({ url, setup, ...extra })` in a fresh tab
 *   showing the test page and resolves with its result;
 * - `ownServer(env)`: starts a test app with extra environment (on top of
 *   the suite's) for this scenario alone.
 * Tabs and servers are closed when the scenario ends.
 */
export function defineBrowserSuite({ title, client, suite, page, env = {}, extra = {}, replace = {} }) {
  let pageServer;
  let chromium;
  let server;
  before(async () => {
    pageServer = await startPageServer();
    chromium = await launchChromium();
    server = await startServer({ app: 'testapp', env });
  });
  after(async () => {
    await Promise.all([chromium?.close(), server?.stop(), pageServer?.close()]);
  });

  function createContext(t, setup) {
    const closers = [];
    t.after(() => Promise.all(closers.map((close) => close())));
    return {
      url: server.url,
      setup,
      origin: pageServer.origin,
      async inPage(fn, more = {}) {
        const tab = await chromium.newPage(`${pageServer.origin}${page}`);
        closers.push(() => tab.close());
        return tab.evaluate(fn, { url: server.url, setup, ...more });
      },
      async ownServer(ownEnv) {
        const own = await startServer({ app: 'testapp', env: { ...env, ...ownEnv } });
        closers.push(() => own.stop());
        return own;
      },
    };
  }

  const all = Object.fromEntries(Object.entries(scenarios).map(
    ([feature, named]) => [feature, { ...(replace[feature] ?? named), ...extra[feature] }],
  ));
  for (const setup of [SETUPS.polling, SETUPS.websocket, SETUPS.upgrade]) {
    describe(`${title} over ${setup.name}`, () => {
      for (const [feature, named] of Object.entries(all)) {
        for (const [name, scenario] of Object.entries(named)) {
          const cell = { client, transport: setup.transport, feature, test: name };
          // node:test's timeout is only a backstop: `recorded` gives up first.
          test(name, { timeout: SCENARIO_TIMEOUT_MS + 5000 }, (t) => recorded(
            suite,
            cell,
            () => scenario(createContext(t, setup)),
            { timeoutMs: SCENARIO_TIMEOUT_MS },
          ));
        }
      }
    });
  }
}
