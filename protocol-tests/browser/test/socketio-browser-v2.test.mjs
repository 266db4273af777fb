// The official socket.io-client 2.5 browser bundle (Engine.IO v3, Socket.IO
// protocol v4: socket.io 2.x pages still deployed), in Debian's headless
// Chromium, against the test app served with allowEIO3
// (SIOBRIDGE_ALLOW_EIO3=1), over polling, websocket, and polling upgraded to
// websocket. As in socketio-browser.test.mjs, the page comes from another
// origin than the test app, and each scenario runs whole in a fresh tab
// (page/v2.html, page/harness-v2.js) and returns what the page saw.
//
// In the 2.x client's terms: a namespace's query is its auth, `/` is joined
// implicitly, socket ids are the Engine.IO id (`nsp#id` outside `/`), and a
// refusal is an `error` event carrying the middleware's data.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { recorded } from '../../node/lib/matrix.mjs';
import { startServer } from '../../node/lib/server.mjs';
import { SETUPS } from '../../node/lib/sio-scenarios.mjs';
import { launchChromium, startPageServer } from '../lib/browser.mjs';

const CLIENT = 'socket.io-client 2.5 (Chromium)';
const SUITE = 'socketio-client-v2-chromium';
const SCENARIO_TIMEOUT_MS = 15_000;
const QUIET_MS = 300;
const ENV = { SIOBRIDGE_ALLOW_EIO3: '1' };
const JSON_ARGS = ['héllo, 世界 😀', 42, -1.5, { nested: { list: [1, 'two', false] }, empty: {} }, [1, 'two', null, []], null];
const arrayBuffer = (length, seed = 0) => ({
  type: 'ArrayBuffer',
  bytes: Array.from({ length }, (_, i) => (i * 7 + seed) % 256),
});
const finalTransport = (setup) => (setup.transport === 'polling' ? 'polling' : 'websocket');

const scenarios = {
  'connect-auth': {
    async 'is in / at once, joins /custom and /private with their query as auth'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const cases = [['/', null], ['/custom', { token: 'x y' }], ['/private', { token: 'secret' }]];
        const results = [];
        for (const [nsp, query] of cases) {
          const { socket, welcome } = await harness.connect(url, nsp, setup, query ? { query } : {});
          results.push({
            nsp, query, id: socket.id, engineId: socket.io.engine.id, transport: socket.io.engine.transport.name, welcome,
          });
        }
        return { origin: location.origin, results };
      });
      assert.notEqual(seen.origin, new URL(ctx.url).origin, 'the page must be cross-origin');
      for (const { nsp, query, id, engineId, transport, welcome } of seen.results) {
        assert.equal(id, nsp === '/' ? engineId : `${nsp}#${engineId}`);
        assert.equal(transport, finalTransport(ctx.setup));
        // The query of `/` goes to the Engine.IO handshake, not to auth.
        assert.deepEqual(welcome, { id, nsp, auth: nsp === '/' ? {} : query });
      }
    },
  },

  'auth-error': {
    async 'refusals are `error` events with the middleware data, or "Invalid namespace"'(ctx) {
      const outcomes = await ctx.inPage(({ url, setup }) => Promise.all([
        harness.attempt(url, '/private', setup, { query: { token: 'wrong' } }),
        harness.attempt(url, '/private', setup),
        harness.attempt(url, '/nope', setup),
      ]));
      assert.deepEqual(outcomes, [
        { event: 'error', connected: false, payload: { code: 401 } },
        { event: 'error', connected: false, payload: { code: 401 } },
        { event: 'error', connected: false, payload: { message: 'Invalid namespace' } },
      ]);
    },
  },

  'emit-ack': {
    async 'events and acknowledgements carry every JSON argument'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup, args }) => {
        const { socket } = await harness.connect(url, '/', setup);
        const ackArgs = await harness.request(socket, 'echo', ...args);
        const echoed = harness.once(socket, 'echo');
        socket.emit('echo', ...args);
        return { ackArgs, eventArgs: await echoed };
      }, { args: JSON_ARGS });
      assert.deepEqual(seen, { ackArgs: JSON_ARGS, eventArgs: JSON_ARGS });
    },
  },

  'server-ack': {
    async 'the server gets the page\'s answer, or times out without one'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket } = await harness.connect(url, '/', setup);
        socket.on('question', (data, ack) => ack({ answer: data.n + 1 }));
        let silentAsked = 0;
        socket.on('silent', () => silentAsked++);
        const [answered] = await harness.request(socket, 'ask', { event: 'question', data: { n: 1 }, timeout: 2000 });
        const [unanswered] = await harness.request(socket, 'ask', { event: 'silent', data: null, timeout: 300 });
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
    async 'ArrayBuffers travel both ways byte for byte'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { bytes, describe } = harness;
        const { socket } = await harness.connect(url, '/', setup);
        const single = describe(await harness.request(socket, 'echo', bytes(256).buffer));
        // The 2.x client finds ArrayBuffers (not typed arrays) inside objects.
        const nested = describe(await harness.request(socket, 'echo', { name: 'f', content: bytes(1000, 1).buffer, parts: [bytes(3, 2).buffer, 'text'] }));
        const echoed = harness.once(socket, 'echo');
        socket.emit('echo', bytes(5, 5).buffer, 'tail');
        const event = describe(await echoed);
        socket.on('bin-question', (data, ack) => ack(data));
        const [asked] = await harness.request(socket, 'ask', { event: 'bin-question', data: bytes(4, 6).buffer, timeout: 2000 });
        return { single, nested, event, asked: describe(asked) };
      });
      assert.deepEqual(seen, {
        single: [arrayBuffer(256)],
        nested: [{ name: 'f', content: arrayBuffer(1000, 1), parts: [arrayBuffer(3, 2), 'text'] }],
        event: [arrayBuffer(5, 5), 'tail'],
        asked: { err: null, reply: arrayBuffer(4, 6) },
      });
    },
  },

  broadcast: {
    async 'a broadcast reaches the other client exactly once, not the sender'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup, quietMs }) => {
        const [{ socket: a }, { socket: b }] = await Promise.all([harness.connect(url, '/', setup), harness.connect(url, '/', setup)]);
        const arrived = harness.once(b, 'news');
        const senderQuiet = harness.quiet(a, 'news', quietMs);
        const otherCount = harness.quiet(b, 'news', quietMs);
        await harness.request(a, 'broadcast', { event: 'news', data: { from: 'A' } });
        const [news] = await arrived;
        return { news, sender: await senderQuiet, other: await otherCount };
      }, { quietMs: QUIET_MS });
      assert.deepEqual(seen, { news: { from: 'A' }, sender: 0, other: 1 });
    },
  },

  volatile: {
    async 'a volatile event reaches a connected page'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket } = await harness.connect(url, '/', setup);
        await harness.once(socket.io.engine, 'pong', 2000);
        // The 2.x client polls again right after the pong, but its GET and
        // the POST below travel on two connections: a short pause lets the
        // GET reach the server first, so that the volatile packet finds the
        // transport writable. It orders the page's own requests only.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const arrived = harness.once(socket, 'fleeting');
        await harness.request(socket, 'volatile', { event: 'fleeting', data: { n: 7 } });
        return arrived;
      });
      assert.deepEqual(seen, [{ n: 7 }]);
    },
  },

  disconnect: {
    async 'server and client disconnects, each with its reason'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket: a } = await harness.connect(url, '/', setup);
        const serverSide = harness.once(a, 'disconnect');
        a.emit('disconnect-me');
        const { socket: b } = await harness.connect(url, '/', setup);
        const clientSide = harness.once(b, 'disconnect');
        b.disconnect();
        return { server: await serverSide, client: await clientSide };
      });
      assert.deepEqual(seen, { server: ['io server disconnect'], client: ['io client disconnect'] });
    },
  },

  reconnect: {
    async 'reconnects, as a new socket with a new id, after the server drops the connection'(ctx) {
      const seen = await ctx.inPage(async ({ url, setup }) => {
        const { socket } = await harness.connect(url, '/', setup, { reconnection: true, reconnectionDelay: 50 });
        const firstId = socket.id;
        const disconnected = harness.once(socket, 'disconnect');
        const reconnected = harness.once(socket, 'reconnect', 5000);
        const welcomedAgain = harness.once(socket, 'welcome', 5000);
        socket.emit('close-transport');
        const [reason] = await disconnected;
        await reconnected;
        const [welcome] = await welcomedAgain;
        const [echoed] = await harness.request(socket, 'echo', 'again');
        return { firstId, secondId: socket.id, engineId: socket.io.engine.id, welcome, reason, echoed };
      });
      assert.equal(seen.reason, 'transport close');
      assert.notEqual(seen.secondId, seen.firstId);
      assert.equal(seen.secondId, seen.engineId);
      assert.deepEqual(seen.welcome, { id: seen.secondId, nsp: '/', auth: {} });
      assert.equal(seen.echoed, 'again');
    },
  },

  'cors-refused': {
    async 'a page from an unlisted origin is refused, from a listed one admitted'(ctx) {
      const refusing = await ctx.ownServer({ TESTAPP_CORS_ORIGINS: 'http://allowed.example' });
      const admitting = await ctx.ownServer({ TESTAPP_CORS_ORIGINS: `http://allowed.example,${ctx.origin}` });
      const handshake = await fetch(`${refusing.url}/socket.io/?EIO=3&transport=polling`, { headers: { origin: ctx.origin } });
      assert.equal(handshake.status, 403);
      assert.deepEqual(await handshake.json(), { code: 4, message: 'Forbidden' });
      const [refused, admitted] = await ctx.inPage(
        ({ setup, urls }) => Promise.all(urls.map((url) => harness.attempt(url, '/', setup))),
        { urls: [refusing.url, admitting.url] },
      );
      const message = ctx.setup.transport === 'websocket' ? 'websocket error' : 'xhr poll error';
      assert.deepEqual(refused, { event: 'connect_error', connected: false, payload: { message } });
      assert.deepEqual(admitted, { event: 'connect', connected: true });
    },
  },
};

let pageServer;
let chromium;
let server;
before(async () => {
  pageServer = await startPageServer();
  chromium = await launchChromium();
  server = await startServer({ app: 'testapp', env: ENV });
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
    async inPage(fn, extra = {}) {
      const page = await chromium.newPage(`${pageServer.origin}/v2.html`);
      closers.push(() => page.close());
      return page.evaluate(fn, { url: server.url, setup, ...extra });
    },
    async ownServer(env) {
      const own = await startServer({ app: 'testapp', env: { ...ENV, ...env } });
      closers.push(() => own.stop());
      return own;
    },
  };
}

for (const setup of [SETUPS.polling, SETUPS.websocket, SETUPS.upgrade]) {
  describe(`socket.io-client 2.5 in Chromium over ${setup.name}`, () => {
    for (const [feature, named] of Object.entries(scenarios)) {
      for (const [name, scenario] of Object.entries(named)) {
        const cell = { client: CLIENT, transport: setup.transport, feature, test: name };
        test(name, { timeout: SCENARIO_TIMEOUT_MS + 5000 }, (t) => recorded(
          SUITE,
          cell,
          () => scenario(createContext(t, setup)),
          { timeoutMs: SCENARIO_TIMEOUT_MS },
        ));
      }
    }
  });
}
