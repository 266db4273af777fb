// Runs in the page, next to the official socket.io-client 2.5 bundle (the
// global `io`): the helpers of test/socketio-browser-v2.test.mjs, as
// harness.js is for the 4.8 bundle. The 2.x client has no `auth`, no
// `timeout()` and no `emitWithAck`: a namespace's query is its auth, a
// refusal is an `error` event, and acknowledgements are callbacks.
//
// Every timeout here is an upper bound for something expected to happen,
// except `quiet`, whose whole point is to watch a window for silence.
'use strict';

window.harness = (() => {
  const TIMEOUT_MS = 3000;

  /** Resolves with the argument list of the next `event`, or rejects after `timeoutMs`. */
  function once(emitter, event, timeoutMs = TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const listener = (...args) => {
        clearTimeout(timer);
        resolve(args);
      };
      const timer = setTimeout(() => {
        emitter.off(event, listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
      }, timeoutMs);
      emitter.once(event, listener);
    });
  }

  /** Resolves with `{ event, args }` for whichever of `events` fires first. */
  function first(emitter, events, timeoutMs = TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const listeners = events.map((event) => [event, (...args) => settle(() => resolve({ event, args }))]);
      const settle = (finish) => {
        clearTimeout(timer);
        for (const [event, listener] of listeners) emitter.off(event, listener);
        finish();
      };
      const timer = setTimeout(() => settle(() => reject(new Error(
        `timed out after ${timeoutMs} ms waiting for any of ${events.join(', ')}`,
      ))), timeoutMs);
      for (const [event, listener] of listeners) emitter.on(event, listener);
    });
  }

  /** Resolves with the number of `event`s seen during `windowMs`. */
  function quiet(emitter, event, windowMs) {
    return new Promise((resolve) => {
      let seen = 0;
      const listener = () => seen++;
      emitter.on(event, listener);
      setTimeout(() => {
        emitter.off(event, listener);
        resolve(seen);
      }, windowMs);
    });
  }

  /** Opens a client with the setup's transports, a fresh Manager and no reconnection by default. */
  function open(url, nsp, setup, options = {}) {
    return io(`${url}${nsp}`, { forceNew: true, reconnection: false, transports: setup.transports, ...options });
  }

  /** Resolves with `{ socket, welcome }` once connected, welcomed and, for the upgrade setup, upgraded. */
  async function connect(url, nsp, setup, options) {
    const socket = open(url, nsp, setup, options);
    const [, [welcome]] = await Promise.all([
      first(socket, ['connect', 'connect_error', 'error']).then(({ event, args: [error] }) => {
        if (event !== 'connect') throw new Error(`${event} on ${nsp}: ${JSON.stringify(error?.message ?? error)}`);
      }),
      once(socket, 'welcome'),
      setup.upgrade && once(socket.io.engine, 'upgrade'),
    ]);
    return { socket, welcome };
  }

  /** What the first connection attempt ended in: `connect`, `error` (a refusal) or `connect_error`. */
  async function attempt(url, nsp, setup, options) {
    const socket = open(url, nsp, setup, options);
    const { event, args: [payload] } = await first(socket, ['connect', 'error', 'connect_error']);
    const outcome = { event, connected: socket.connected };
    if (payload !== undefined) outcome.payload = payload instanceof Error ? { message: payload.message } : payload;
    socket.close();
    return outcome;
  }

  function bytes(length, seed = 0) {
    return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) % 256);
  }

  /** `value` as plain data for Node, each ArrayBuffer or view as `{ type, bytes }`. */
  function describe(value) {
    if (value instanceof ArrayBuffer) return { type: 'ArrayBuffer', bytes: Array.from(new Uint8Array(value)) };
    if (ArrayBuffer.isView(value)) {
      const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { type: value.constructor.name, bytes: Array.from(view) };
    }
    if (Array.isArray(value)) return value.map(describe);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, describe(inner)]));
    }
    return value;
  }

  /** Emits `event` with a callback; resolves with all the ack's arguments. */
  function request(socket, event, ...args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      socket.emit(event, ...args, (...reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  return { once, first, quiet, open, connect, attempt, bytes, describe, request };
})();
