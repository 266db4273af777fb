// Clients that misbehave on purpose, below what `fetch` and `ws` allow: raw
// HTTP over TCP (trickled, oversized, from a chosen loopback address), a
// WebSocket that never reads, an Engine.IO WebSocket that answers pings by
// itself, and the server's memory as the kernel reports it.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { DEFAULT_TIMEOUT_MS, queue } from './wait.mjs';

/** The resident set size of process `pid`, in bytes (VmRSS, Linux). */
export async function rss(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Polls `check` (an async function returning truthy when done) until it
 * succeeds or `timeoutMs` passes; resolves with its value. For states the
 * server reaches on its own time (a freed session slot), never as a sleep.
 */
export async function eventually(check, { timeoutMs = DEFAULT_TIMEOUT_MS, everyMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Parses `HTTP/1.1 <status> ...\r\nheaders\r\n\r\nbody` (body not de-chunked). */
function parseResponse(raw) {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  }));
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') };
}

function dechunk(buffer) {
  const parts = [];
  let at = 0;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Opens a TCP connection to the server (from `localAddress`, any 127.x.y.z
 * address, when given). `send(chunk)` writes; `closed` resolves when the
 * server ends the connection, with `{ response, error }`: the parsed HTTP
 * response it sent (or `null` when it sent none) and the socket error, if
 * any. `received()` is everything read so far.
 */
export function rawConnection(port, { localAddress } = {}) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const chunks = [];
  let error = null;
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('error', (e) => { error = e; });
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  connected.catch(() => {});
  const closed = new Promise((resolve) => {
    socket.once('close', () => {
      const raw = Buffer.concat(chunks);
      resolve({ response: raw.length > 0 ? parseResponse(raw) : null, raw, error });
    });
  });
  return {
    socket,
    connected,
    closed,
    received: () => Buffer.concat(chunks),
    send: (chunk) => { if (!socket.destroyed) socket.write(chunk); },
    destroy: () => socket.destroy(),
  };
}

/** Rejects when `promise` has not settled within `timeoutMs`. */
export function within(promise, timeoutMs, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Sends one raw HTTP request (bytes as given, `Connection: close` expected in
 * them) and resolves with the server's parsed response once it closes.
 */
export async function rawRequest(port, bytes, { localAddress, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const connection = rawConnection(port, { localAddress });
  connection.send(bytes);
  const { response } = await within(connection.closed, timeoutMs, 'the server to answer and close');
  return response;
}

/**
 * A polling GET or POST through `http.request`-free raw TCP from
 * `localAddress`: resolves with `{ status, body }`.
 */
export function httpFrom(port, localAddress, { method = 'GET', path, body = '' }) {
  const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`
    + (method === 'POST' ? `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '')
    + '\r\n';
  return rawRequest(port, head + body, { localAddress });
}

/** A client WebSocket frame (masked, as RFC 6455 requires of clients). */
export function maskedFrame(payload, { opcode = 0x1, fin = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const mask = crypto.randomBytes(4);
  let header;
  if (data.length < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | data.length]);
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header.writeUInt16BE(data.length, 2);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 126;
  } else {
    header = Buffer.alloc(10);
    header.writeBigUInt64BE(BigInt(data.length), 2);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 127;
  }
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

/**
 * A WebSocket opened by hand over raw TCP that stops reading right after the
 * 101 answer: the client that never reads. Resolves once upgraded with the
 * connection (see `rawConnection`) plus `sendText(text)`.
 */
export async function pausedWebSocket(port, path, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const connection = rawConnection(port);
  await connection.connected;
  const key = crypto.randomBytes(16).toString('base64');
  connection.send(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`
    + `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
  await within(new Promise((resolve) => {
    const check = () => {
      if (connection.received().includes('\r\n\r\n')) {
        connection.socket.off('data', check);
        resolve();
      }
    };
    connection.socket.on('data', check);
  }), timeoutMs, 'the 101 answer');
  const status = connection.received().toString('latin1').split(' ')[1];
  if (status !== '101') throw new Error(`WebSocket refused with ${status}`);
  connection.socket.pause();
  return { ...connection, sendText: (text) => connection.send(maskedFrame(text)) };
}

/**
 * An Engine.IO v4 WebSocket client by hand that answers every PING with a
 * PONG on its own, so a test sees only what its input caused (never a ping
 * timeout). `open` is the handshake JSON; `next()` resolves with the next
 * non-PING frame (strings for text, Buffers for binary); `closed` resolves
 * with the close code once the connection ends; `frames()` lists what came.
 * `localAddress` picks the loopback address to connect from.
 */
export async function engineSocket(url, { timeoutMs = DEFAULT_TIMEOUT_MS, headers, localAddress } = {}) {
  const ws = new WebSocket(url, { headers, localAddress });
  ws.on('error', () => {});
  const seen = [];
  const messages = queue(ws, 'frame');
  ws.on('message', (data, isBinary) => {
    const frame = isBinary ? data : data.toString('utf8');
    if (frame === '2') {
      if (ws.readyState === WebSocket.OPEN) ws.send('3');
      return;
    }
    seen.push(frame);
    ws.emit('frame', frame);
  });
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  const next = async (options = { timeoutMs }) => (await messages.next(options))[0];
  await within(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', (code) => reject(new Error(`WebSocket ${url} closed (${code}) before opening`)));
  }), timeoutMs, `WebSocket ${url} to open`);
  const open = await next();
  if (typeof open !== 'string' || open[0] !== '0') throw new Error(`expected OPEN, got ${String(open).slice(0, 80)}`);
  return {
    ws,
    open: JSON.parse(open.slice(1)),
    send: (data) => ws.readyState === WebSocket.OPEN && ws.send(data),
    next,
    closed,
    frames: () => seen,
    close: () => ws.terminate(),
  };
}
