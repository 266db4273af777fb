// Clients for the bridge suites, following the conventions of the bridge
// spec (bridge-profiles.md §0.3):
// - clients are socket.io-client 4.8, `io(URL + ns, { forceNew: true, transports })`,
//   and every profile suite runs once over ["websocket"] and once over ["polling"];
// - EVT (2000 ms) bounds the wait for an expected event;
// - QUIET (400 ms) is the window in which "X receives nothing" is observed,
//   with `onAny`, and in which an expected event must not come a second time;
// - SETTLE (150 ms) is the pause after a registration or join whose effect
//   another socket relies on: the protocols send no confirmation to wait for.
//
// Every client records each application event it receives (`onAny`) as
// `[event, ...args]`. `clients.expect({ NAME: [[event, ...args], ...] })` then
// waits (up to EVT) until every named client has at least its expected number
// of new events, watches one QUIET window more, and asserts that each client
// received exactly the listed events, in order, and that every client not
// named received nothing. Then it forgets everything received so far, so the
// next step starts clean.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { request } from './raw.mjs';
import { first } from './wait.mjs';

export const EVT = 2000;
export const QUIET = 400;
export const SETTLE = 150;
export const TRANSPORTS = ['websocket', 'polling'];
// Upper bound for one scenario, so a bridge that stops answering fails the
// scenario instead of hanging the run.
export const SCENARIO_TIMEOUT_MS = 20_000;

/** The pause of §0.3 after an emit that another socket relies on. */
export const settle = () => sleep(SETTLE);

/** Marks expected events whose relative order the spec does not fix. */
export const anyOrder = (events) => ({ anyOrder: events });

/**
 * Records every event `socket` (a socket.io-client 2.x socket, which has no
 * `onAny`) receives, as `onAny` does.
 */
function onAnyV2(socket, listener) {
  const onevent = socket.onevent;
  socket.onevent = function onEvent(packet) {
    listener(...(packet.data || []));
    return onevent.call(this, packet);
  };
}

/**
 * A set of named clients of the bridge at `url`, all on `transport`, each
 * created with the extra `clientOptions` (e.g. a `parser`). With `v2`, the
 * clients are socket.io-client 2.5 (the bridge must serve them:
 * `--allow-eio3`), whose refusals are `error` events.
 * `close()` disconnects them all.
 */
export function bridgeClients(url, transport, clientOptions = {}, { v2 = false } = {}) {
  const clients = new Map();
  const anonymous = [];
  const waiters = new Set();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };

  const outcomes = v2 ? ['connect', 'connect_error', 'error'] : ['connect', 'connect_error'];
  const open = (nsp, options) => (v2 ? ioV2 : io)(`${url}${nsp}`, {
    forceNew: true,
    reconnection: false,
    transports: [transport],
    ...clientOptions,
    ...options,
  });

  /**
   * Opens client `name` on `nsp` and resolves with it once connected. With
   * `auth`, the socket is created with `autoConnect: false` and its `auth`
   * set before `connect()`, as the Directual boilerplate does.
   */
  async function connectOne(name, { nsp = '/', auth } = {}) {
    assert.ok(!clients.has(name), `client ${name} already exists`);
    const socket = open(nsp, { autoConnect: false });
    if (auth !== undefined) socket.auth = auth;
    const client = {
      name,
      socket,
      events: [],
      get id() { return socket.id; },
      get connected() { return socket.connected; },
      emit: (...args) => socket.emit(...args),
      disconnect: () => socket.disconnect(),
    };
    const record = (...event) => {
      client.events.push(event);
      notify();
    };
    if (v2) onAnyV2(socket, record);
    else socket.onAny(record);
    clients.set(name, client);
    socket.connect();
    const { event, args } = await first(socket, outcomes, { timeoutMs: EVT });
    if (event !== 'connect') throw new Error(`${name} could not connect to ${nsp}: ${args[0]?.message}`);
    return client;
  }

  return {
    /** Connects the named clients to `nsp`; resolves with them by name. */
    async connect(names, options) {
      const list = await Promise.all([names].flat().map((name) => connectOne(name, options)));
      return Object.fromEntries(list.map((client) => [client.name, client]));
    },

    /** Opens a client that must be refused; resolves with its `connect_error`. */
    async connectError(nsp, { auth } = {}) {
      const socket = open(nsp, { autoConnect: false });
      anonymous.push(socket);
      if (auth !== undefined) socket.auth = auth;
      socket.connect();
      const { event, args } = await first(socket, outcomes, { timeoutMs: EVT });
      assert.notEqual(event, 'connect', `${nsp} accepted a connection with auth ${JSON.stringify(auth)}`);
      assert.equal(socket.connected, false);
      return args[0];
    },

    /** See the header comment. `expected` maps client names to event lists. */
    async expect(expected = {}) {
      const wanted = new Map(Object.entries(expected).map(([name, events]) => {
        assert.ok(clients.has(name), `unknown client ${name}`);
        return [clients.get(name), events.anyOrder ? { events: events.anyOrder, ordered: false } : { events, ordered: true }];
      }));
      const arrived = () => [...wanted].every(([client, { events }]) => client.events.length >= events.length);
      // Only when everything arrived is the QUIET window worth watching; if
      // EVT runs out, the comparison below says what is missing.
      if (await until(arrived, EVT)) await sleep(QUIET);

      const failures = [];
      for (const client of clients.values()) {
        const { events, ordered } = wanted.get(client) ?? { events: [], ordered: true };
        const seen = client.events.splice(0);
        const [a, b] = ordered ? [seen, events] : [sortedByJson(seen), sortedByJson(events)];
        try {
          assert.deepStrictEqual(a, b);
        } catch {
          failures.push(`${client.name}: expected ${show(events)}${ordered ? '' : ' (any order)'} but received ${show(seen)}`);
        }
      }
      if (failures.length > 0) assert.fail(`over ${transport}:\n  ${failures.join('\n  ')}`);
    },

    close() {
      for (const client of clients.values()) client.socket.disconnect();
      for (const socket of anonymous) socket.disconnect();
    },
  };

  // Resolves true as soon as `condition()` holds, false after `timeoutMs`.
  function until(condition, timeoutMs) {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (result) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(result);
      };
      const check = () => condition() && finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      waiters.add(check);
    });
  }
}

const sortedByJson = (events) => [...events].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
// `undefined` arguments (none are expected) would vanish from JSON.
const show = (events) => JSON.stringify(events, (_key, value) => (value === undefined ? '<undefined>' : value));

/**
 * POSTs `body` to the bridge's HTTP API (JSON-encoded unless it is a string)
 * and resolves with `{ status, body }`, the body parsed as JSON when it is.
 */
export async function postApi(url, path, body, { token } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await request(`${url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  let parsed;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    parsed = response.body;
  }
  return { status: response.status, contentType: response.contentType, body: parsed };
}
