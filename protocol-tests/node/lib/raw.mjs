// Wire-level helpers for tests that speak the protocol by hand: plain HTTP
// requests with `fetch`, and WebSockets with the `ws` package.
import WebSocket from 'ws';
import { DEFAULT_TIMEOUT_MS, queue } from './wait.mjs';

/**
 * `fetch` with an upper bound on the whole exchange; resolves with the status,
 * the Content-Type header and the body as text.
 */
export async function request(url, { timeoutMs = DEFAULT_TIMEOUT_MS, signal, ...init } = {}) {
  const timeout = AbortSignal.timeout(timeoutMs);
  const response = await fetch(url, {
    ...init,
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    headers: response.headers,
    body: await response.text(),
  };
}

/**
 * Opens a WebSocket and buffers what it receives. `opened` settles once the
 * upgrade succeeded (or failed); `nextMessage()` resolves with text frames as
 * strings and binary frames as Buffers; `nextClose()` with `{ code, reason }`.
 * Connection errors show up as a close (code 1006).
 */
export function connectWebSocket(url) {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  const messages = queue(ws, 'message');
  const closes = queue(ws, 'close');
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', (code) => reject(new Error(`WebSocket ${url} closed (${code}) before opening`)));
  });
  // Only tests that need the socket open await this; the others must not see
  // an unhandled rejection when the server closes it.
  opened.catch(() => {});
  return {
    ws,
    opened,
    send: (data) => ws.send(data),
    async nextMessage(options) {
      const [data, isBinary] = await messages.next(options);
      return isBinary ? data : data.toString('utf8');
    },
    async nextClose(options) {
      const [code, reason] = await closes.next(options);
      return { code, reason: reason.toString('utf8') };
    },
  };
}

/**
 * Attempts a WebSocket connection the server is expected to refuse, and
 * resolves with how it ended: `{ status }` when the HTTP upgrade was answered
 * with a non-101 status, or `{ code, messages }` when the upgrade went
 * through and the server then closed the connection (`messages` lists what
 * it sent before closing).
 */
export function refusedWebSocket(url, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`WebSocket ${url} was neither refused nor closed within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => messages.push(isBinary ? data : data.toString('utf8')));
    ws.on('unexpected-response', (req, res) => {
      clearTimeout(timer);
      resolve({ status: res.statusCode });
      ws.terminate();
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, messages });
    });
  });
}
