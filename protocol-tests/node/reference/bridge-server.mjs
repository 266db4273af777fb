// Test-only oracle: the `siobridge` binary's contract and its four routing
// profiles (spec: bridge-profiles.md), implemented with the official
// `socket.io` 4.8 package. The bridge suites were validated against it before
// they were run against the real binary; it is also meant to be read as a
// compact statement of what each profile does, event by event.
//
// Command line (the binary's, README.md "The bridge contract"):
//   bridge-server.mjs [--listen ADDR] [--profile NAMESPACE=PROFILE]...
//                     [--api-token TOKEN] [--cors-origin ORIGIN]...
//                     [--parser json|msgpack] [--allow-eio3]
//                     [--state-recovery SECONDS]
// with the environment variables SIOBRIDGE_LISTEN, SIOBRIDGE_PROFILES,
// SIOBRIDGE_API_TOKEN, SIOBRIDGE_CORS_ORIGINS, SIOBRIDGE_PARSER,
// SIOBRIDGE_ALLOW_EIO3, SIOBRIDGE_STATE_RECOVERY and SIOBRIDGE_LOG as fallbacks
// for the flags. Bad flags exit with status 2 and a message on stderr. The
// first stdout line is `listening on <ip>:<port>`; SIGTERM and SIGINT shut
// down gracefully with status 0.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Server } from 'socket.io';

const USAGE = `usage: siobridge [--listen ADDR] [--profile NAMESPACE=PROFILE]... [--api-token TOKEN] [--cors-origin ORIGIN]...
                 [--parser json|msgpack] [--allow-eio3] [--state-recovery SECONDS]

  --listen ADDR              address to listen on (default 127.0.0.1:3000; port 0 = any free port)
  --profile NAMESPACE=PROFILE
                             mount PROFILE (digital-auto, hubtel, directual, chat) on NAMESPACE;
                             repeatable; default /=digital-auto
  --api-token TOKEN          require "Authorization: Bearer TOKEN" on the HTTP API
  --cors-origin ORIGIN       allowed CORS origin; repeatable; default: any origin
  --admin USER:PASSWORD      serve the Socket.IO Admin UI's namespace /admin
                             (instrument() of @socket.io/admin-ui, basic auth)
  --parser json|msgpack      socket.io-parser (default) or socket.io-msgpack-parser, for every client
  --allow-eio3               also serve socket.io 2.x clients (allowEIO3)
  --state-recovery SECONDS   connection state recovery for every profile, with that window
                             (connectionStateRecovery, middlewares skipped; default: off)

Environment (used when the flag is absent):
  SIOBRIDGE_LISTEN, SIOBRIDGE_PROFILES (comma-separated NAMESPACE=PROFILE),
  SIOBRIDGE_API_TOKEN, SIOBRIDGE_CORS_ORIGINS (comma-separated), SIOBRIDGE_ADMIN,
  SIOBRIDGE_PARSER (json|msgpack), SIOBRIDGE_ALLOW_EIO3 (1), SIOBRIDGE_STATE_RECOVERY (SECONDS),
  SIOBRIDGE_LOG (error|warn|info|debug, default info)
`;

const EXIT_USAGE = 2;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

function usageError(message) {
  process.stderr.write(`siobridge: ${message}\n${USAGE}`);
  process.exit(EXIT_USAGE);
}

/** Reads the flags, falling back to the environment for each absent one. */
function parseConfig(argv, env) {
  const flags = { listen: undefined, profiles: [], apiToken: undefined, corsOrigins: [], admin: undefined, parser: undefined, allowEIO3: false, stateRecovery: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    // Both `--flag value` and `--flag=value`.
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) usageError(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '--listen': flags.listen = value(); break;
      case '--profile': flags.profiles.push(value()); break;
      case '--api-token': flags.apiToken = value(); break;
      case '--cors-origin': flags.corsOrigins.push(value()); break;
      case '--admin': flags.admin = value(); break;
      case '--parser': flags.parser = value(); break;
      case '--allow-eio3': flags.allowEIO3 = true; break;
      case '--state-recovery': flags.stateRecovery = value(); break;
      default: usageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  const list = (text) => (text ? text.split(',').map((s) => s.trim()).filter(Boolean) : []);

  const profileSpecs = flags.profiles.length > 0 ? flags.profiles : list(env.SIOBRIDGE_PROFILES);
  const config = {
    listen: parseListen(flags.listen ?? env.SIOBRIDGE_LISTEN ?? '127.0.0.1:3000'),
    mounts: parseMounts(profileSpecs.length > 0 ? profileSpecs : ['/=digital-auto']),
    apiToken: flags.apiToken ?? (env.SIOBRIDGE_API_TOKEN || undefined),
    corsOrigins: flags.corsOrigins.length > 0 ? flags.corsOrigins : list(env.SIOBRIDGE_CORS_ORIGINS),
    logLevel: parseLogLevel(env.SIOBRIDGE_LOG ?? 'info'),
    admin: parseAdmin(flags.admin ?? (env.SIOBRIDGE_ADMIN || undefined)),
    parser: flags.parser ?? (env.SIOBRIDGE_PARSER || 'json'),
    allowEIO3: flags.allowEIO3 || env.SIOBRIDGE_ALLOW_EIO3 === '1',
    stateRecovery: parseSeconds(flags.stateRecovery ?? (env.SIOBRIDGE_STATE_RECOVERY || undefined)),
  };
  if (!['json', 'msgpack'].includes(config.parser)) usageError(`--parser ${JSON.stringify(config.parser)}: expected json or msgpack`);
  if (config.apiToken === '') usageError('--api-token must not be empty');
  return config;
}

/** The window of --state-recovery, in milliseconds (undefined: off). */
function parseSeconds(text) {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0)) usageError(`invalid --state-recovery ${JSON.stringify(text)}: expected a positive number of seconds`);
  return seconds * 1000;
}

/** `USER:PASSWORD` into `{ username, password }`. */
function parseAdmin(text) {
  if (text === undefined) return undefined;
  const at = text.indexOf(':');
  if (at <= 0 || at === text.length - 1) usageError('--admin: expected USER:PASSWORD, both non-empty');
  return { username: text.slice(0, at), password: text.slice(at + 1) };
}

/** `IPv4:port` or `[IPv6]:port`. */
function parseListen(text) {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = match && Number(match[2]);
  if (!match || !net.isIP(match[1]) || port > 65535) {
    usageError(`invalid --listen address ${JSON.stringify(text)}: expected IP:PORT`);
  }
  return { host: match[1], port };
}

const PROFILES = ['digital-auto', 'hubtel', 'directual', 'chat'];

/** `NAMESPACE=PROFILE` items into a Map namespace -> profile name. */
function parseMounts(specs) {
  const mounts = new Map();
  for (const spec of specs) {
    const at = spec.indexOf('=');
    const [namespace, profile] = at < 0 ? [spec, undefined] : [spec.slice(0, at), spec.slice(at + 1)];
    if (profile === undefined) usageError(`invalid --profile ${JSON.stringify(spec)}: expected NAMESPACE=PROFILE`);
    if (!namespace.startsWith('/')) usageError(`invalid --profile ${JSON.stringify(spec)}: the namespace must start with "/"`);
    if (!PROFILES.includes(profile)) usageError(`unknown profile ${JSON.stringify(profile)} in --profile ${JSON.stringify(spec)}: expected one of ${PROFILES.join(', ')}`);
    if (mounts.has(namespace)) usageError(`namespace ${namespace} is mounted twice`);
    mounts.set(namespace, profile);
  }
  return mounts;
}

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

function parseLogLevel(text) {
  if (!LOG_LEVELS.includes(text)) usageError(`invalid SIOBRIDGE_LOG ${JSON.stringify(text)}: expected one of ${LOG_LEVELS.join(', ')}`);
  return LOG_LEVELS.indexOf(text);
}

function isLoopback(host) {
  return host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

const config = parseConfig(process.argv.slice(2), process.env);
const hasDirectual = [...config.mounts.values()].includes('directual');

// The HTTP API is unauthenticated without a token, so it is only allowed on
// loopback; refuse to expose it anywhere else.
if (hasDirectual && !config.apiToken && !isLoopback(config.listen.host)) {
  process.stderr.write(`siobridge: refusing to serve the directual HTTP API on non-loopback address ${config.listen.host} without --api-token (or SIOBRIDGE_API_TOKEN)\n`);
  process.exit(EXIT_USAGE);
}

function log(level, message) {
  if (LOG_LEVELS.indexOf(level) <= config.logLevel) process.stderr.write(`[${level}] ${message}\n`);
}

// ---------------------------------------------------------------------------
// Shared helpers for the profiles
// ---------------------------------------------------------------------------

/** A JSON object: not null, not an array (spec R-A1, R-B4). */
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const isNonEmptyString = (value) => typeof value === 'string' && value.length > 0;

// Socket.IO's reserved event names (spec §2.1, R-C5).
const RESERVED_EVENTS = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];

// ---------------------------------------------------------------------------
// Profile A: digital.auto provider bridge (spec §1)
// ---------------------------------------------------------------------------

function mountDigitalAuto(nsp) {
  /** provider_id -> { socketId, providerId, name } (R-A2). */
  const providers = new Map();
  // R-A3: the subscribers of a provider id are a Socket.IO room, as in the
  // sibling, so that a socket that recovers its session keeps them.
  const subscribers = (providerId) => `subscribers of ${providerId}`;

  const heldBy = (socket) => [...providers.values()].filter((entry) => entry.socketId === socket.id).map((entry) => entry.providerId);

  nsp.on('connection', (socket) => {
    // A-e1: the last registration wins, even over a connected socket.
    socket.on('register_provider', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.provider_id)) return;
      providers.set(payload.provider_id, { socketId: socket.id, providerId: payload.provider_id, name: payload.name });
    });

    // A-e2: additive and idempotent; the provider need not exist yet.
    socket.on('register_client', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.master_provider_id)) return;
      socket.join(subscribers(payload.master_provider_id));
    });

    // A-e3 -> A-e4: every key kept, `request_from` set by the server (R-A4).
    socket.on('request_provider', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.to_provider_id) || !payload.cmd) return;
      const provider = providers.get(payload.to_provider_id);
      const target = provider && nsp.sockets.get(provider.socketId);
      if (!target) return;
      target.emit('new_request', { ...payload, request_from: socket.id });
    });

    // A-e5 -> A-e6: routed by socket id only, never to a group (R-A5).
    socket.on('provider_reply', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.request_from)) return;
      nsp.sockets.get(payload.request_from)?.emit('provider_reply', payload);
    });

    // A-e7 -> A-e8, under both names; only for ids this socket holds (R-A6).
    const broadcast = (payload) => {
      if (!isObject(payload)) return;
      const held = heldBy(socket);
      const targets = isNonEmptyString(payload.provider_id) ? [payload.provider_id].filter((id) => held.includes(id)) : held;
      for (const id of targets) {
        nsp.to(subscribers(id)).emit('message_from_provider', payload);
      }
    };
    socket.on('sent_to_my_clients', broadcast);
    socket.on('send_to_all_clients', broadcast);

    // R-A2: drop every entry still held by this socket. R-A3: leaving the
    // rooms ends its subscriptions (Socket.IO does it).
    socket.on('disconnect', () => {
      for (const id of heldBy(socket)) providers.delete(id);
    });
  });
}

// ---------------------------------------------------------------------------
// Profile B: Hubtel Realtime channels and rooms (spec §2)
// ---------------------------------------------------------------------------

const HUBTEL_EVENTS = ['join-channel', 'leave-channel', 'join-room', 'leave-room', 'notify-room', 'online-users', 'room-online-users'];
const HUBTEL_RESERVED = new Set([...RESERVED_EVENTS, ...HUBTEL_EVENTS]);

/** `data.roomChannel`, else `source.channel`; undefined if neither or reserved (§2.1). */
function channelOf(envelope) {
  if (!isObject(envelope)) return undefined;
  const fromData = isObject(envelope.data) ? envelope.data.roomChannel : undefined;
  const fromSource = isObject(envelope.source) ? envelope.source.channel : undefined;
  const channel = isNonEmptyString(fromData) ? fromData : isNonEmptyString(fromSource) ? fromSource : undefined;
  return channel !== undefined && !HUBTEL_RESERVED.has(channel) ? channel : undefined;
}

/** The room key (channel id, data.roomId), or undefined (§2.1). */
function roomOf(envelope) {
  const channel = channelOf(envelope);
  const roomId = channel !== undefined ? envelope.data?.roomId : undefined;
  if (!isNonEmptyString(roomId)) return undefined;
  return { channel, roomId, key: JSON.stringify([channel, roomId]) };
}

function mountHubtel(nsp) {
  /** channel id -> Map socket -> envelope of its join (for the disconnect notice). */
  const channels = new Map();
  /** room key -> Map socket -> envelope of its join-room. */
  const rooms = new Map();

  const sendAll = (members, event, payload) => {
    for (const member of members.keys()) member.emit(event, payload);
  };
  const total = () => new Set([...channels.values()].flatMap((members) => [...members.keys()])).size;
  const onlineUsers = (channel, members) => ({ roomChannel: channel, count: members.size, total: total() });

  // B-e3 / R-B3: leaves with `envelope`, then tells the remaining members.
  const leaveChannel = (socket, channel, envelope) => {
    const members = channels.get(channel);
    if (!members?.delete(socket)) return;
    if (members.size === 0) channels.delete(channel);
    sendAll(members, 'leave-channel', envelope);
    sendAll(members, 'online-users', onlineUsers(channel, members));
  };
  const leaveRoom = (socket, room, envelope) => {
    const members = rooms.get(room.key);
    if (!members?.delete(socket)) return;
    if (members.size === 0) rooms.delete(room.key);
    sendAll(members, 'leave-room', envelope);
  };

  nsp.on('connection', (socket) => {
    // B-e1: joiner included; a redundant join is a no-op (R-B1).
    socket.on('join-channel', (envelope) => {
      const channel = channelOf(envelope);
      if (channel === undefined) return;
      const members = channels.get(channel) ?? new Map();
      if (members.has(socket)) return;
      members.set(socket, envelope);
      channels.set(channel, members);
      sendAll(members, 'join-channel', envelope);
      sendAll(members, 'online-users', onlineUsers(channel, members));
    });

    socket.on('leave-channel', (envelope) => {
      const channel = channelOf(envelope);
      if (channel !== undefined) leaveChannel(socket, channel, envelope);
    });

    // B-r1: channel membership is not needed (R-B2).
    socket.on('join-room', (envelope) => {
      const room = roomOf(envelope);
      if (room === undefined) return;
      const members = rooms.get(room.key) ?? new Map();
      if (members.has(socket)) return;
      members.set(socket, envelope);
      rooms.set(room.key, members);
      sendAll(members, 'join-room', envelope);
      sendAll(members, 'room-online-users', { roomChannel: room.channel, roomId: room.roomId, count: members.size });
    });

    // B-r3: no room-online-users after a leave.
    socket.on('leave-room', (envelope) => {
      const room = roomOf(envelope);
      if (room !== undefined) leaveRoom(socket, room, envelope);
    });

    // B-r2: members only, sender included.
    socket.on('notify-room', (envelope) => {
      const room = roomOf(envelope);
      const members = room && rooms.get(room.key);
      if (members?.has(socket)) sendAll(members, 'notify-room', envelope);
    });

    // B-e2: the event name is the channel id; members only, sender included.
    // Reserved names can never be channels, so control events never match.
    socket.onAny((event, payload) => {
      const members = channels.get(event);
      if (members?.has(socket)) sendAll(members, event, payload ?? null);
    });

    // R-B3: a disconnect leaves every channel and room with the join envelope.
    socket.on('disconnect', () => {
      for (const [channel, members] of [...channels]) {
        if (members.has(socket)) leaveChannel(socket, channel, members.get(socket));
      }
      for (const [key, members] of [...rooms]) {
        if (members.has(socket)) {
          const [channel, roomId] = JSON.parse(key);
          leaveRoom(socket, { channel, roomId, key }, members.get(socket));
        }
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Profile C: Directual push (spec §3); sessions are shared by every mount
// ---------------------------------------------------------------------------

/** `${app_id}\0${session_id}` -> user_id (C-h1). */
const directualSessions = new Map();
const directualNamespaces = [];
const sessionKey = (appId, sessionId) => `${appId}\0${sessionId}`;

function mountDirectual(nsp) {
  directualNamespaces.push(nsp);
  // C-s1: the handshake auth must name an existing session of that app.
  nsp.use((socket, next) => {
    const { app_id: appId, session_id: sessionId } = isObject(socket.handshake.auth) ? socket.handshake.auth : {};
    const userId = isNonEmptyString(appId) && isNonEmptyString(sessionId) ? directualSessions.get(sessionKey(appId, sessionId)) : undefined;
    if (userId === undefined) return next(new Error('unauthorized'));
    socket.data.appId = appId;
    socket.data.userId = userId;
    next();
  });
  // C-c1: clients send nothing that matters; no handlers.
}

/** C-h1 `POST /api/v1/sessions`. */
function createSession(body) {
  if (!isObject(body) || !isNonEmptyString(body.app_id) || !isNonEmptyString(body.user_id)) {
    return [400, { status: 'ERR', message: 'app_id and user_id must be non-empty strings' }];
  }
  if (body.session_id !== undefined && !isNonEmptyString(body.session_id)) {
    return [400, { status: 'ERR', message: 'session_id must be a non-empty string' }];
  }
  const sessionId = body.session_id ?? randomUUID();
  directualSessions.set(sessionKey(body.app_id, sessionId), body.user_id);
  return [200, { status: 'OK', session_id: sessionId }];
}

/** C-h2 `POST /api/v1/push` (R-C2 to R-C7). */
function push(body) {
  if (!isObject(body)) return [400, { status: 'ERR', message: 'the body must be a JSON object' }];
  if (!isNonEmptyString(body.event) || RESERVED_EVENTS.includes(body.event)) {
    return [400, { status: 'ERR', message: 'event must be a non-empty string and not a reserved name' }];
  }
  if (!isNonEmptyString(body.user_id)) return [400, { status: 'ERR', message: 'user_id must be a non-empty string' }];
  if (!isNonEmptyString(body.app_id)) return [400, { status: 'ERR', message: 'app_id must be a non-empty string' }];

  // R-C7: no `message` key means an event with no argument.
  const args = 'message' in body ? [body.message] : [];
  let delivered = 0;
  for (const nsp of directualNamespaces) {
    for (const socket of nsp.sockets.values()) {
      if (socket.data.appId !== body.app_id) continue;
      if (body.user_id !== '*' && socket.data.userId !== body.user_id) continue;
      socket.emit(body.event, ...args);
      delivered++;
    }
  }
  return [200, { status: 'OK', delivered }];
}

// ---------------------------------------------------------------------------
// Profile D: Flask-SocketIO chat tutorial (spec §4)
// ---------------------------------------------------------------------------

function mountChat(nsp) {
  /** room -> contents sent to it, oldest first (per namespace). */
  const histories = new Map();
  const nameOf = (username) => (username === undefined || username === null ? '' : String(username));

  nsp.on('connection', (socket) => {
    // D-e1: back to the sender only.
    socket.on('message', (payload) => socket.emit('message', payload ?? null));

    // D-e2: the whole namespace, sender included.
    socket.on('my event', (payload) => nsp.emit('my response', payload ?? null));

    // D-e3: the joiner is in the room when the notice goes out.
    socket.on('join', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.room)) return;
      socket.join(payload.room);
      nsp.to(payload.room).emit('message', `${nameOf(payload.username)} has entered the room.`);
    });

    // D-e4: the leaver is gone when the notice goes out.
    socket.on('leave', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.room)) return;
      socket.leave(payload.room);
      nsp.to(payload.room).emit('message', `${nameOf(payload.username)} has left the room.`);
    });

    // D-e5: the full history to the room's members.
    socket.on('send_message', (payload) => {
      if (!isObject(payload) || !isNonEmptyString(payload.room)) return;
      const history = histories.get(payload.room) ?? [];
      history.push(payload.content ?? null);
      histories.set(payload.room, history);
      // A copy: with connection state recovery, socket.io keeps the packet
      // (the object itself) to replay it, and a later push must not change
      // what this one said.
      nsp.to(payload.room).emit(`newMessage/${payload.room}`, { all_messages: [...history] });
    });
    // A disconnect leaves the rooms silently (Socket.IO does it).
  });
}

const MOUNT = { 'digital-auto': mountDigitalAuto, hubtel: mountHubtel, directual: mountDirectual, chat: mountChat };

// ---------------------------------------------------------------------------
// Metrics (Prometheus text format 0.0.4)
// ---------------------------------------------------------------------------

const metrics = {
  connections: new Map(), // transport -> open Engine.IO connections
  packets: { in: 0, out: 0 },
  bytes: { in: 0, out: 0 },
  upgrades: 0,
  disconnects: new Map(), // reason -> count
  slowConsumers: 0, // socket.io has no bounded send queue to overflow
};

const bump = (map, key, by = 1) => map.set(key, (map.get(key) ?? 0) + by);
const packetSize = (packet) => (typeof packet.data === 'string' ? Buffer.byteLength(packet.data) : packet.data?.length ?? 0);

function trackEngineConnection(conn) {
  let transport = conn.transport.name;
  bump(metrics.connections, transport);
  conn.on('upgrade', (upgraded) => {
    bump(metrics.connections, transport, -1);
    transport = upgraded.name;
    bump(metrics.connections, transport);
    metrics.upgrades++;
  });
  conn.on('packet', (packet) => {
    metrics.packets.in++;
    metrics.bytes.in += packetSize(packet);
  });
  conn.on('packetCreate', (packet) => {
    metrics.packets.out++;
    metrics.bytes.out += packetSize(packet);
  });
  conn.once('close', () => bump(metrics.connections, transport, -1));
}

function renderMetrics(io) {
  const lines = [];
  const family = (name, type, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',');
      lines.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  };
  family('siobridge_connections', 'gauge', 'Open Engine.IO connections by transport.',
    ['polling', 'websocket'].map((transport) => [{ transport }, metrics.connections.get(transport) ?? 0]));
  family('siobridge_sockets', 'gauge', 'Connected Socket.IO sockets by namespace and profile.',
    [...config.mounts].map(([namespace, profile]) => [{ namespace, profile }, io.of(namespace).sockets.size]));
  family('siobridge_packets_total', 'counter', 'Engine.IO packets received (in) and sent (out).',
    ['in', 'out'].map((direction) => [{ direction }, metrics.packets[direction]]));
  family('siobridge_bytes_total', 'counter', 'Engine.IO packet payload bytes received (in) and sent (out).',
    ['in', 'out'].map((direction) => [{ direction }, metrics.bytes[direction]]));
  family('siobridge_upgrades_total', 'counter', 'Transport upgrades from polling to WebSocket.', [[{}, metrics.upgrades]]);
  family('siobridge_disconnects_total', 'counter', 'Socket.IO socket disconnects by reason.',
    [...metrics.disconnects].map(([reason, count]) => [{ reason }, count]));
  family('siobridge_slow_consumers_total', 'counter', 'Sockets dropped because their send queue was full.', [[{}, metrics.slowConsumers]]);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// HTTP: health, metrics, the directual API (spec §3.2); Socket.IO on /socket.io/
// ---------------------------------------------------------------------------

const MAX_API_BODY_BYTES = 1_000_000;

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_API_BODY_BYTES) return { error: 'the body is too large' };
    chunks.push(chunk);
  }
  try {
    return { body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { error: 'the body is not valid JSON' };
  }
}

const API_ROUTES = { '/api/v1/sessions': createSession, '/api/v1/push': push };

async function handleApi(req, res, handler) {
  if (config.apiToken && req.headers.authorization !== `Bearer ${config.apiToken}`) {
    return sendJson(res, 401, { status: 'ERR', message: 'unauthorized' });
  }
  if (req.method !== 'POST') return sendJson(res, 405, { status: 'ERR', message: 'method not allowed' });
  const { body, error } = await readJson(req);
  if (error) return sendJson(res, 400, { status: 'ERR', message: error });
  const [status, answer] = handler(body);
  sendJson(res, status, answer);
}

let io;
const httpServer = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (pathname === '/metrics') {
    return res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(io));
  }
  // The API exists only when a directual profile is mounted.
  const handler = hasDirectual ? API_ROUTES[pathname] : undefined;
  if (handler) return void handleApi(req, res, handler);
  res.writeHead(404).end();
});

io = new Server(httpServer, {
  path: '/socket.io/',
  transports: ['polling', 'websocket'],
  cors: { origin: config.corsOrigins.length > 0 ? config.corsOrigins : '*' },
  allowEIO3: config.allowEIO3,
  ...(config.stateRecovery !== undefined && {
    connectionStateRecovery: { maxDisconnectionDuration: config.stateRecovery, skipMiddlewares: true },
  }),
  // One parser for the whole server, as siobridge's --parser.
  ...(config.parser === 'msgpack' ? { parser: createRequire(import.meta.url)('socket.io-msgpack-parser') } : {}),
});
io.engine.on('connection', trackEngineConnection);

// Rule 0.2.4: `/` always exists in socket.io; without a profile it refuses
// every CONNECT the way an unknown namespace is refused.
if (!config.mounts.has('/')) io.of('/').use((_socket, next) => next(new Error('Invalid namespace')));
for (const [namespace, profile] of config.mounts) {
  const nsp = io.of(namespace);
  nsp.on('connection', (socket) => {
    log('debug', `${namespace} (${profile}): ${socket.id} connected`);
    socket.on('disconnect', (reason) => {
      bump(metrics.disconnects, reason);
      log('debug', `${namespace} (${profile}): ${socket.id} disconnected (${reason})`);
    });
  });
  MOUNT[profile](nsp);
}

// The Admin UI's server side, as its documentation sets it up: basic auth
// against a bcrypt hash, "development" mode (the socket list and its events).
if (config.admin) {
  const require = createRequire(import.meta.url);
  const { instrument } = require('@socket.io/admin-ui');
  const bcrypt = require('bcryptjs');
  instrument(io, {
    auth: { type: 'basic', username: config.admin.username, password: bcrypt.hashSync(config.admin.password, 4) },
    mode: 'development',
  });
}

httpServer.listen(config.listen.port, config.listen.host, () => {
  const { address, port } = httpServer.address();
  process.stdout.write(`listening on ${net.isIPv6(address) ? `[${address}]` : address}:${port}\n`);
  log('info', `profiles: ${[...config.mounts].map(([ns, profile]) => `${ns}=${profile}`).join(', ')}`);
});
httpServer.on('error', (error) => {
  process.stderr.write(`siobridge: cannot listen on ${config.listen.host}:${config.listen.port}: ${error.message}\n`);
  process.exit(1);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    log('info', `${signal}: shutting down`);
    // Closes every Engine.IO session, then the HTTP server.
    io.close(() => process.exit(0));
    // Pending long-polling GETs and keep-alive sockets would hold close() open.
    httpServer.closeAllConnections();
  });
}
