// Socket.IO scenarios against the test app (README.md, "The test-app
// contract"), written once for any official socket.io-client: each suite hands
// its `io` function to `defineSuite`, which runs the scenarios over every
// transport setup. `coreScenarios` are the ones every client version must
// pass; the suite of the current client adds its own on top.
//
// Scenarios are grouped by the feature they show, a column of the
// conformance matrix (protocol-tests/MATRIX.md): each test records its
// outcome for the cell (client, transport, feature) through lib/matrix.mjs.
import assert from 'node:assert/strict';
import { setTimeout as quietWindow } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { recorded } from './matrix.mjs';
import { startServer } from './server.mjs';
import { first, once } from './wait.mjs';

// Upper bound for one scenario, so a server that stops answering fails the
// scenario instead of hanging the run.
const SCENARIO_TIMEOUT_MS = 15_000;
// Upper bound for the test app's acknowledgement of a request.
export const ACK_TIMEOUT_MS = 3000;
// The test app's pingInterval.
const PING_INTERVAL = 300;
// How long a client must stay silent to count as not having received an event.
export const QUIET_MS = 300;

// `transport` names the setup in the matrix.
export const SETUPS = {
  websocket: { name: 'websocket', transport: 'websocket', transports: ['websocket'] },
  polling: { name: 'polling', transport: 'polling', transports: ['polling'] },
  upgrade: { name: 'polling upgraded to websocket', transport: 'upgrade', transports: ['polling', 'websocket'], upgrade: true },
};

/**
 * Registers one `describe` per setup, each running every scenario as a test,
 * against one test app started for the whole file.
 *
 * `scenarios` maps a matrix feature to its scenarios, each
 * `async (ctx) => void` named by its key; `ctx` is described at
 * `createContext`. `client` names the client in the matrix, and `suite` the
 * file its results go to. `env` is extra environment for the test app
 * (e.g. `SIOBRIDGE_PARSER`).
 */
export function defineSuite({ title, client, suite, io, setups, scenarios, env = {} }) {
  let server;
  before(async () => {
    server = await startServer({ app: 'testapp', env });
  });
  after(() => server?.stop());

  for (const setup of setups) {
    describe(`${title} over ${setup.name}`, () => {
      for (const [feature, named] of Object.entries(scenarios)) {
        for (const [name, scenario] of Object.entries(named)) {
          const cell = { client, transport: setup.transport, feature, test: name };
          // node:test's timeout is only a backstop: `recorded` gives up first.
          test(name, { timeout: SCENARIO_TIMEOUT_MS + 5000 }, (t) => recorded(
            suite,
            cell,
            () => scenario(createContext(t, io, setup, server.url, env)),
            { timeoutMs: SCENARIO_TIMEOUT_MS },
          ));
        }
      }
    });
  }
}

/** Merges scenario groups feature by feature (later groups add to earlier ones). */
export function mergeScenarios(...groups) {
  const merged = {};
  for (const group of groups) {
    for (const [feature, named] of Object.entries(group)) {
      merged[feature] = { ...merged[feature], ...named };
    }
  }
  return merged;
}

/**
 * What a scenario works with. Clients use the setup's transports, with
 * `forceNew` and no reconnection unless `options` say otherwise.
 * - `connect(nsp, options)`: opens a client and resolves with
 *   `{ socket, welcome }` once it is connected, welcomed, and for the upgrade
 *   setup upgraded;
 * - `connectError(nsp, options)`: opens a client and resolves with the error
 *   of its `connect_error`;
 * - `open(nsp, options)`: opens a client and returns it at once;
 * - `ownServer()`: starts a test app for this scenario alone and resolves with
 *   the same two functions for it, for scenarios that depend on which clients
 *   are connected to `/`.
 * Clients and servers are closed when the scenario ends.
 */
function createContext(t, io, setup, url, env) {
  const sockets = [];
  const servers = [];
  t.after(async () => {
    for (const socket of sockets) socket.disconnect();
    await Promise.all(servers.map((server) => server.stop()));
  });

  const clientsOf = (baseUrl) => {
    const open = (nsp = '/', options = {}) => {
      const socket = io(`${baseUrl}${nsp}`, {
        forceNew: true,
        reconnection: false,
        transports: setup.transports,
        ...options,
      });
      sockets.push(socket);
      return socket;
    };

    const connect = async (nsp = '/', options = {}) => {
      const socket = open(nsp, options);
      const [, [welcome]] = await Promise.all([
        first(socket, ['connect', 'connect_error']).then(({ event, args: [error] }) => {
          if (event === 'connect_error') throw new Error(`connect_error on ${nsp}: ${error.message}`);
        }),
        // The server emits `welcome` right after the CONNECT packet.
        once(socket, 'welcome'),
        setup.upgrade && once(socket.io.engine, 'upgrade'),
      ]);
      if (setup.upgrade) assert.equal(socket.io.engine.transport.name, 'websocket');
      return { socket, welcome };
    };

    const connectError = async (nsp, options = {}) => {
      const socket = open(nsp, options);
      const { event, args } = await first(socket, ['connect', 'connect_error']);
      assert.equal(event, 'connect_error', `${nsp} accepted the connection`);
      assert.equal(socket.connected, false);
      return args[0];
    };

    return { open, connect, connectError };
  };

  return {
    ...clientsOf(url),
    async ownServer() {
      const server = await startServer({ app: 'testapp', env });
      servers.push(server);
      return clientsOf(server.url);
    },
  };
}

/** Sends `event` to the test app and resolves with its acknowledgement. */
export function request(socket, event, ...args) {
  return socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
}

/** Emits `event` with a callback and resolves with all the ack's arguments. */
export function emitWithAckArgs(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, ...args, (error, ...reply) => (error ? reject(error) : resolve(reply)));
  });
}

// Arguments of every JSON kind, non-ASCII text included.
export const JSON_ARGS = ['héllo, 世界 😀', 42, -1.5, { nested: { list: [1, 'two', false] }, empty: {} }, [1, 'two', null, []], null];

/** `length` bytes of a pattern that `seed` shifts. */
export const bytes = (length, seed = 0) => Buffer.from(Array.from({ length }, (_, i) => (i * 7 + seed) % 256));

// Connects to `nsp` without auth, then with, checking each `welcome`.
async function assertWelcomes(ctx, nsp) {
  for (const auth of [undefined, { token: 'x', n: 1 }]) {
    const { socket, welcome } = await ctx.connect(nsp, auth && { auth });
    assert.equal(socket.connected, true);
    assert.equal(typeof socket.id, 'string');
    assert.ok(socket.id.length > 0);
    // The handshake auth is `{}` when the client sent none.
    assert.deepEqual(welcome, { id: socket.id, nsp, auth: auth ?? {} });
  }
}

/**
 * Connects clients A, B and C to `/` and has A and B join room "r1". Each
 * client records the events it receives (`received(event)` lists their
 * argument lists), so a step can check who got what, and how many times.
 */
export async function threeClientsInRoom(clients) {
  const [a, b, c] = await Promise.all(['A', 'B', 'C'].map(async (name) => {
    const { socket } = await clients.connect('/');
    const log = [];
    socket.onAny((event, ...args) => log.push([event, args]));
    const received = (event) => log.filter(([type]) => type === event).map(([, args]) => args);
    return { name, socket, received };
  }));
  // Joins are acknowledged once done: no wait needed before broadcasting.
  assert.equal(await request(a.socket, 'join', 'r1'), 'r1');
  assert.equal(await request(b.socket, 'join', 'r1'), 'r1');
  return [a, b, c];
}

/**
 * Runs `act` (which makes the test app emit `event` with `data`), waits until
 * each of `receivers` has it, then watches a quiet window: each receiver must
 * end up with it exactly once, and every other client without it.
 */
export async function expectDelivery(clients, receivers, event, data, act) {
  const arrivals = receivers.map((client) => once(client.socket, event));
  await act();
  await Promise.all(arrivals);
  await quietWindow(QUIET_MS);
  for (const client of clients) {
    const expected = receivers.includes(client) ? [[data]] : [];
    assert.deepEqual(client.received(event), expected, `"${event}" as received by ${client.name}`);
  }
}

export const coreScenarios = {
  'connect-auth': {
    async 'connects to / and is welcomed with its id and auth'(ctx) {
      await assertWelcomes(ctx, '/');
    },

    async 'connects to /custom and is welcomed with its id and auth'(ctx) {
      await assertWelcomes(ctx, '/custom');
    },

    async '/private accepts the right token'(ctx) {
      const auth = { token: 'secret' };
      const { socket, welcome } = await ctx.connect('/private', { auth });
      assert.deepEqual(welcome, { id: socket.id, nsp: '/private', auth });
    },
  },

  'auth-error': {
    // A middleware's `next(err)` becomes CONNECT_ERROR `{message, data}`, which
    // the client turns into an Error with `data` attached.
    async '/private refuses a wrong or missing token with the error message and data'(ctx) {
      for (const options of [{ auth: { token: 'wrong' } }, {}]) {
        const error = await ctx.connectError('/private', options);
        assert.equal(error.message, 'unauthorized');
        assert.deepEqual(error.data, { code: 401 });
      }
    },
  },

  'emit-ack': {
    async 'acknowledges client events with their arguments'(ctx) {
      const { socket } = await ctx.connect('/');
      const payload = { text: 'héllo 😀', n: 42, list: [1, null, 'x'], nested: { ok: true } };
      assert.deepEqual(await socket.emitWithAck('echo', payload), payload);
      assert.equal(await socket.timeout(2000).emitWithAck('echo', 'with a timeout'), 'with a timeout');
      // emitWithAck resolves with the first argument only; a callback sees all.
      assert.deepEqual(await emitWithAckArgs(socket, 'echo', ...JSON_ARGS), JSON_ARGS);
    },
  },

  'server-ack': {
    async 'the server gets the answer to its acknowledged event'(ctx) {
      const { socket } = await ctx.connect('/');
      socket.on('question', (data, ack) => ack({ answer: data.n + 1 }));
      const result = await request(socket, 'ask', { event: 'question', data: { n: 1 }, timeout: 2000 });
      assert.deepEqual(result, { err: null, reply: { answer: 2 } });
    },

    async 'the server times out when the client never answers'(ctx) {
      const { socket } = await ctx.connect('/');
      let asked = 0;
      socket.on('question', () => asked++);
      const startedAt = Date.now();
      const result = await request(socket, 'ask', { event: 'question', data: { n: 1 }, timeout: 300 });
      assert.deepEqual(result, { err: 'operation has timed out', reply: null });
      assert.equal(asked, 1);
      const elapsed = Date.now() - startedAt;
      assert.ok(elapsed >= 250, `timed out after ${elapsed} ms, before the 300 ms asked for`);
    },
  },

  binary: {
    // Buffers travel as attachments (BINARY_EVENT / BINARY_ACK) and come back as
    // Buffers, wherever they sit in the arguments.
    async 'acknowledges binary arguments byte for byte'(ctx) {
      const { socket } = await ctx.connect('/');
      const single = bytes(256);
      assert.deepEqual(await socket.emitWithAck('echo', single), single);

      const nested = { name: 'file.bin', content: bytes(1000, 1), parts: [bytes(3, 2), 'text'] };
      assert.deepEqual(await socket.emitWithAck('echo', nested), nested);

      const args = [bytes(10, 3), 'between', bytes(20, 4)];
      assert.deepEqual(await emitWithAckArgs(socket, 'echo', ...args), args);
    },
  },

  broadcast: {
    async 'broadcast reaches everyone but the sender'(ctx) {
      const clients = await threeClientsInRoom(ctx);
      const [a, b, c] = clients;
      await expectDelivery(clients, [b, c], 'news', ['all', 'but', 'A'], () =>
        request(a.socket, 'broadcast', { event: 'news', data: ['all', 'but', 'A'] }));
    },
  },

  volatile: {
    // A volatile packet may be dropped when the transport cannot write at that
    // instant: over polling, when no GET is pending on the server. Right after
    // a heartbeat the client has polled again and the next ping is
    // pingInterval away, so nothing excuses a loss here.
    async 'a volatile event reaches a connected client'(ctx) {
      const { socket } = await ctx.connect('/');
      await once(socket.io.engine, 'ping', { timeoutMs: PING_INTERVAL + 1000 });
      const arrived = once(socket, 'fleeting');
      await request(socket, 'volatile', { event: 'fleeting', data: { n: 7 } });
      assert.deepEqual(await arrived, [{ n: 7 }]);
    },
  },

  disconnect: {
    async 'disconnect-me ends the session with "io server disconnect"'(ctx) {
      const { socket } = await ctx.connect('/');
      const disconnected = once(socket, 'disconnect');
      socket.emit('disconnect-me');
      const [reason] = await disconnected;
      assert.equal(reason, 'io server disconnect');
      assert.equal(socket.connected, false);
    },

    async 'a client disconnect reports "io client disconnect"'(ctx) {
      const { socket } = await ctx.connect('/');
      const disconnected = once(socket, 'disconnect');
      socket.disconnect();
      const [reason] = await disconnected;
      assert.equal(reason, 'io client disconnect');
    },
  },

  reconnect: {
    // Closing the Engine.IO connection is not a Socket.IO disconnect: the
    // client sees "transport close" and reconnects, as a new socket with a
    // new id.
    async 'reconnects after the server closes the transport'(ctx) {
      const { socket, welcome } = await ctx.connect('/', { reconnection: true, reconnectionDelay: 50 });
      const firstId = socket.id;
      const disconnected = once(socket, 'disconnect');
      const reconnected = once(socket, 'connect', { timeoutMs: 5000 });
      const welcomedAgain = once(socket, 'welcome', { timeoutMs: 5000 });
      socket.emit('close-transport');
      const [reason] = await disconnected;
      assert.equal(reason, 'transport close');
      await reconnected;
      const [secondWelcome] = await welcomedAgain;
      assert.equal(typeof socket.id, 'string');
      assert.notEqual(socket.id, firstId);
      assert.deepEqual(secondWelcome, { ...welcome, id: socket.id });
      assert.equal(await socket.emitWithAck('echo', 'again'), 'again');
    },
  },
};
