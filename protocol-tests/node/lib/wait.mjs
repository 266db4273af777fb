// Promise helpers for event-driven tests.
//
// Every timeout here is an upper bound for something the test expects to
// happen; none of them is a sleep whose expiry is taken as success, except
// `expectNoEvent`, whose whole point is to watch a window for silence.
//
// They work with anything that has `on(event, fn)` and `off(event, fn)`:
// Node's EventEmitter (`ws`), and the component-emitter used by
// engine.io-client and socket.io-client.

export const DEFAULT_TIMEOUT_MS = 3000;

function describeEmitter(emitter) {
  return emitter?.constructor?.name ?? 'emitter';
}

/**
 * Resolves with the argument list of the next `event`, or rejects when it has
 * not fired within `timeoutMs`.
 */
export function once(emitter, event, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const listener = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}" on ${describeEmitter(emitter)}`));
    }, timeoutMs);
    emitter.once(event, listener);
  });
}

/**
 * Resolves with the first argument of each of the next `count` occurrences of
 * `event`, in order; rejects (saying how many arrived) after `timeoutMs`.
 */
export function collect(emitter, event, count, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const values = [];
    const listener = (value) => {
      values.push(value);
      if (values.length === count) {
        clearTimeout(timer);
        emitter.off(event, listener);
        resolve(values);
      }
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} "${event}" events on ${describeEmitter(emitter)}: got ${values.length}`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

/**
 * Records every occurrence of `event` from now on, so a test can await them
 * one at a time without missing any that fire between two awaits.
 * `next()` resolves with the argument list of the oldest unread occurrence.
 */
export function queue(emitter, event) {
  const buffered = [];
  const waiting = [];
  emitter.on(event, (...args) => {
    const waiter = waiting.shift();
    if (waiter) waiter(args);
    else buffered.push(args);
  });
  return {
    next({ timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
      if (buffered.length > 0) return Promise.resolve(buffered.shift());
      return new Promise((resolve, reject) => {
        const waiter = (args) => {
          clearTimeout(timer);
          resolve(args);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}" on ${describeEmitter(emitter)}`));
        }, timeoutMs);
        waiting.push(waiter);
      });
    },
  };
}

/**
 * Resolves after `windowMs` if `event` did not fire meanwhile; rejects as soon
 * as it does, showing (the start of) its first argument.
 */
export function expectNoEvent(emitter, event, windowMs) {
  return new Promise((resolve, reject) => {
    const listener = (value) => {
      clearTimeout(timer);
      const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value).slice(0, 80);
      reject(new Error(`unexpected "${event}" on ${describeEmitter(emitter)} within ${windowMs} ms: ${shown}`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve();
    }, windowMs);
    emitter.once(event, listener);
  });
}

/**
 * Resolves with `{ event, args }` for whichever of `events` fires first, or
 * rejects when none of them has fired within `timeoutMs`.
 */
export function first(emitter, events, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const listeners = events.map((event) => [event, (...args) => settle(() => resolve({ event, args }))]);
    const settle = (finish) => {
      clearTimeout(timer);
      for (const [event, listener] of listeners) emitter.off(event, listener);
      finish();
    };
    const timer = setTimeout(() => settle(() => reject(new Error(
      `timed out after ${timeoutMs} ms waiting for any of ${events.map((e) => `"${e}"`).join(', ')} on ${describeEmitter(emitter)}`,
    ))), timeoutMs);
    for (const [event, listener] of listeners) emitter.on(event, listener);
  });
}
