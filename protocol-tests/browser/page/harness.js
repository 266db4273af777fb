// Runs in the page, next to the official socket.io-client bundle (the global
// `io`): the helpers that the browser suite's scenarios call through
// `page.evaluate`. A scenario runs whole in the page and returns what it saw,
// as plain data, for the suite to assert in Node.
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

  /**
   * Opens a client to `url` + `nsp` with the setup's transports, a fresh
   * Manager (`forceNew`) and no reconnection unless `options` say otherwise.
   */
  function open(url, nsp, setup, options = {}) {
    return io(`${url}${nsp}`, { forceNew: true, reconnection: false, transports: setup.transports, ...options });
  }

  /**
   * Opens a client and resolves with `{ socket, welcome }` once it is
   * connected, welcomed, and for the upgrade setup upgraded to websocket.
   */
  async function connect(url, nsp, setup, options) {
    const socket = open(url, nsp, setup, options);
    const [, [welcome]] = await Promise.all([
      first(socket, ['connect', 'connect_error']).then(({ event, args: [error] }) => {
        if (event === 'connect_error') throw new Error(`connect_error on ${nsp}: ${error.message}`);
      }),
      // The test app emits `welcome` right after its CONNECT packet.
      once(socket, 'welcome'),
      setup.upgrade && once(socket.io.engine, 'upgrade'),
    ]);
    return { socket, welcome };
  }

  /** Opens a client and resolves with what its first connection attempt ended in. */
  async function attempt(url, nsp, setup, options) {
    const socket = open(url, nsp, setup, options);
    const { event, args: [error] } = await first(socket, ['connect', 'connect_error']);
    const outcome = { event, connected: socket.connected };
    if (error) Object.assign(outcome, { message: error.message, data: error.data ?? null });
    socket.disconnect();
    return outcome;
  }

  /** `length` bytes of a pattern that `seed` shifts. */
  function bytes(length, seed = 0) {
    return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) % 256);
  }

  /**
   * `value` as plain data for Node: each ArrayBuffer or view becomes
   * `{ type, bytes }` (its constructor's name and its bytes as numbers), so
   * the suite can tell which binary type arrived as well as its content.
   */
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

  /** Sends `event` to the test app and resolves with its acknowledgement. */
  function request(socket, event, ...args) {
    return socket.timeout(TIMEOUT_MS).emitWithAck(event, ...args);
  }

  return { once, first, quiet, open, connect, attempt, bytes, describe, request };
})();
