// Test-only oracle: the Socket.IO test-app contract implemented with the
// official `socket.io` package, so the Socket.IO suites can be validated
// before (and compared against) siobridge's own `examples/testapp.rs`.
//
// Contract (README.md, "The test-app contract", has the full list):
// - listens on 127.0.0.1, port from CONFORMANCE_PORT (0 = ephemeral), prints
//   `listening on 127.0.0.1:<port>` as its first stdout line, and exits with
//   status 0 on SIGTERM;
// - Socket.IO at /socket.io/ with pingInterval 300 ms, pingTimeout 200 ms
//   (TESTAPP_PING_INTERVAL_MS / TESTAPP_PING_TIMEOUT_MS change them),
//   connection state recovery when SIOBRIDGE_STATE_RECOVERY gives its window
//   in seconds (decimals allowed; middlewares skipped on recovery; unset: off),
//   connectTimeout 1000 ms, maxHttpBufferSize 1,000,000 bytes and CORS
//   reflecting the request's origin, credentials allowed; when
//   TESTAPP_CORS_ORIGINS lists origins (comma-separated), only those are
//   allowed and a request from any other origin is refused with 403
//   `{"code":4,"message":"Forbidden"}`, WebSocket handshakes included;
// - namespaces `/` (the full set of handlers below), `/custom`, `/private`
//   (auth middleware) and the dynamic `/dyn-<digits>`; any other namespace
//   is refused with the server's default CONNECT_ERROR "Invalid namespace";
// - with SIOBRIDGE_TLS_CERT and SIOBRIDGE_TLS_KEY (PEM files), HTTPS and WSS
//   instead, the TLS handshake bounded by SIOBRIDGE_TLS_HANDSHAKE_TIMEOUT_MS
//   (Node's `handshakeTimeout`) when set.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { Server } from 'socket.io';

// SIOBRIDGE_PARSER=msgpack serves socket.io-msgpack-parser, as siobridge's
// test app does with the same variable.
const parserName = process.env.SIOBRIDGE_PARSER || 'json';
if (!['json', 'msgpack'].includes(parserName)) {
  throw new Error(`SIOBRIDGE_PARSER: expected json or msgpack, got ${parserName}`);
}
const parserOption = parserName === 'msgpack'
  ? { parser: createRequire(import.meta.url)('socket.io-msgpack-parser') }
  : {};

// SIOBRIDGE_STATE_RECOVERY=SECONDS turns connection state recovery on with
// that window, as siobridge's test app and binary do with the same variable.
const recoverySeconds = process.env.SIOBRIDGE_STATE_RECOVERY;
if (recoverySeconds !== undefined && !(Number(recoverySeconds) > 0)) {
  throw new Error(`SIOBRIDGE_STATE_RECOVERY: expected a positive number of seconds, got ${recoverySeconds}`);
}
const recoveryOption = recoverySeconds === undefined
  ? {}
  : { connectionStateRecovery: { maxDisconnectionDuration: Number(recoverySeconds) * 1000, skipMiddlewares: true } };

const notFound = (req, res) => {
  res.writeHead(404).end();
};
const tls = process.env.SIOBRIDGE_TLS_CERT && {
  cert: readFileSync(process.env.SIOBRIDGE_TLS_CERT),
  key: readFileSync(process.env.SIOBRIDGE_TLS_KEY),
  ...(process.env.SIOBRIDGE_TLS_HANDSHAKE_TIMEOUT_MS
    && { handshakeTimeout: Number(process.env.SIOBRIDGE_TLS_HANDSHAKE_TIMEOUT_MS) }),
};
const httpServer = tls ? https.createServer(tls, notFound) : http.createServer(notFound);

const allowedOrigins = (process.env.TESTAPP_CORS_ORIGINS ?? '')
  .split(',')
  .map((origin) => origin.trim())
  .filter(Boolean);

// With a list, the `cors` option alone only leaves the allow header out (and
// does nothing for WebSocket, which browsers do not guard with CORS), so
// `allowRequest` refuses unlisted origins outright. Clients that send no
// Origin (Node, Python) are let in.
const corsOptions = allowedOrigins.length > 0
  ? {
      cors: { origin: allowedOrigins, credentials: true },
      allowRequest: (req, callback) => {
        const { origin } = req.headers;
        callback(null, origin === undefined || allowedOrigins.includes(origin));
      },
    }
  : { cors: { origin: true, credentials: true } };

// SIOBRIDGE_REDIS (a redis:// URL) joins a Redis cluster with
// @socket.io/redis-adapter, key prefix SIOBRIDGE_REDIS_PREFIX (default
// socket.io), as siobridge's test app does with the same variables.
let adapterOption = {};
if (process.env.SIOBRIDGE_REDIS) {
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { Redis } = await import('ioredis');
  const pub = new Redis(process.env.SIOBRIDGE_REDIS);
  const sub = pub.duplicate();
  for (const client of [pub, sub]) client.on('error', () => {});
  adapterOption = {
    adapter: createAdapter(pub, sub, {
      key: process.env.SIOBRIDGE_REDIS_PREFIX || 'socket.io',
      requestsTimeout: Number(process.env.SIOBRIDGE_REDIS_REQUESTS_TIMEOUT_MS ?? 5000),
    }),
  };
}

const io = new Server(httpServer, {
  path: '/socket.io/',
  pingInterval: Number(process.env.TESTAPP_PING_INTERVAL_MS ?? 300),
  pingTimeout: Number(process.env.TESTAPP_PING_TIMEOUT_MS ?? 200),
  connectTimeout: 1000,
  maxHttpBufferSize: 1_000_000,
  // SIOBRIDGE_ALLOW_EIO3=1 serves socket.io 2.x clients, as siobridge's test
  // app does with the same variable.
  allowEIO3: process.env.SIOBRIDGE_ALLOW_EIO3 === '1',
  ...corsOptions,
  ...parserOption,
  ...recoveryOption,
  ...adapterOption,
});

// Not when the handshake auth says `silent: true`: a client that has received
// no event yet (the state-recovery suite needs one).
function welcome(socket) {
  if (socket.handshake.auth?.silent === true) return;
  socket.emit('welcome', { id: socket.id, nsp: socket.nsp.name, auth: socket.handshake.auth });
}

// Sends the arguments back: as the acknowledgement when the client asked for
// one, otherwise as an `echo` event. Buffers stay binary either way.
function handleEcho(socket) {
  socket.on('echo', (...args) => {
    if (typeof args.at(-1) === 'function') {
      const ack = args.pop();
      ack(...args);
    } else {
      socket.emit('echo', ...args);
    }
  });
}

io.on('connection', (socket) => {
  welcome(socket);
  handleEcho(socket);

  socket.on('join', (room, ack) => {
    socket.join(room);
    ack(room);
  });
  socket.on('leave', (room, ack) => {
    socket.leave(room);
    ack(room);
  });
  // Includes the room named after the socket's own id, which every socket joins.
  socket.on('rooms', (ack) => ack([...socket.rooms].sort()));

  socket.on('to-room', ({ room, event, data }, ack) => {
    io.to(room).emit(event, data);
    ack();
  });
  socket.on('to-room-from-me', ({ room, event, data }, ack) => {
    socket.to(room).emit(event, data);
    ack();
  });
  socket.on('broadcast', ({ event, data }, ack) => {
    socket.broadcast.emit(event, data);
    ack();
  });
  socket.on('to-all', ({ event, data }, ack) => {
    io.emit(event, data);
    ack();
  });
  socket.on('except-room', ({ room, event, data }, ack) => {
    io.except(room).emit(event, data);
    ack();
  });

  socket.on('ask', ({ event, data, timeout }, ack) => {
    socket.timeout(timeout).emit(event, data, (err, reply) => {
      ack({ err: err ? err.message : null, reply: reply === undefined ? null : reply });
    });
  });
  // One reply per client on `/`; on timeout, the replies that did come.
  socket.on('ask-all', ({ event, data, timeout }, ack) => {
    io.timeout(timeout).emit(event, data, (err, replies) => {
      ack({ err: err ? err.message : null, replies: [...replies].sort() });
    });
  });

  socket.on('volatile', ({ event, data }, ack) => {
    socket.volatile.emit(event, data);
    ack();
  });

  socket.on('disconnect-me', () => socket.disconnect());
  socket.on('close-transport', () => socket.conn.close());
  socket.on('later', async ({ ms, value }, ack) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    ack(value);
  });
  socket.on('order', (...args) => {
    const ack = args.pop();
    const [item, quantity] = args;
    if (args.length !== 2 || typeof item !== 'string' || !Number.isInteger(quantity) || quantity < 0) {
      ack({ error: 'expected (string, non-negative integer)' });
      return;
    }
    ack({ item, quantity });
  });
});

// In a cluster (SIOBRIDGE_REDIS): what the Node adapter asks the other
// nodes, run from this node on a client's request, so that the cluster suite
// can check that every node answers (a node that does not makes these wait
// for requestsTimeout and fail).
if (process.env.SIOBRIDGE_REDIS) {
  io.on('ping-servers', (arg, ack) => ack?.({ pong: arg }));
  io.on('announce', (arg) => io.local.emit('announced', arg));
  io.on('connection', (socket) => {
    const reply = (ack, promise) => promise.then(
      (value) => ack({ err: null, value }),
      (err) => ack({ err: err.message, value: null }),
    );
    socket.on('cluster-count', (ack) => reply(ack, io.of('/').adapter.serverCount()));
    socket.on('cluster-fetch', ({ room }, ack) => reply(ack, io.in(room).fetchSockets().then(
      (sockets) => sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), auth: s.handshake.auth }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    )));
    socket.on('cluster-all-rooms', (ack) => reply(ack, io.of('/').adapter.allRooms().then((rooms) => [...rooms].sort())));
    socket.on('cluster-join', ({ room, target }, ack) => {
      io.in(room).socketsJoin(target);
      ack();
    });
    socket.on('cluster-leave', ({ room, target }, ack) => {
      io.in(room).socketsLeave(target);
      ack();
    });
    socket.on('cluster-join-local', ({ room, target }, ack) => {
      io.local.in(room).socketsJoin(target);
      ack();
    });
    socket.on('cluster-disconnect', ({ room, close }, ack) => {
      io.in(room).disconnectSockets(close);
      ack();
    });
    // A Date crosses as notepack's timestamp extension; every node writes
    // it to its clients as JSON.stringify does.
    socket.on('cluster-emit-date', ({ event, ms }, ack) => {
      io.emit(event, new Date(ms));
      ack();
    });
    socket.on('cluster-server-side-emit', ({ event, data, ack: withAck }, ack) => withAck === false
      ? (io.serverSideEmit(event, data), ack({ err: null, value: null }))
      : reply(ack, io.serverSideEmitWithAck(event, data)
      .then((replies) => [...replies].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))))));
  });
}

io.of('/custom').on('connection', (socket) => {
  welcome(socket);
  handleEcho(socket);
});

io.of('/private')
  .use((socket, next) => {
    if (socket.handshake.auth?.token === 'secret') return next();
    next(Object.assign(new Error('unauthorized'), { data: { code: 401 } }));
  })
  .on('connection', welcome);

io.of(/^\/dyn-\d+$/).on('connection', (socket) => {
  welcome(socket);
  handleEcho(socket);
});

httpServer.listen(Number(process.env.CONFORMANCE_PORT ?? 0), '127.0.0.1', () => {
  const { address, port } = httpServer.address();
  process.stdout.write(`listening on ${address}:${port}\n`);
});

process.once('SIGTERM', () => {
  // Closes every Engine.IO session, then the HTTP server.
  io.close(() => process.exit(0));
  // Pending long-polling GETs and keep-alive sockets would hold close() open.
  httpServer.closeAllConnections();
});
