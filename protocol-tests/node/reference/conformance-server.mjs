// Test-only oracle: the whole conformance contract (examples/conformance.rs)
// implemented with the official `engine.io` and `socket.io` packages, so that
// `siobridge conform` can be shown to pass against the reference servers and
// not only against siobridge.
//
// Contract (the settings of the public suites of socketio/engine.io-protocol
// and socketio/socket.io-protocol):
// - listens on 127.0.0.1, port from CONFORMANCE_PORT (0 = ephemeral), prints
//   `listening on 127.0.0.1:<port>` as its first stdout line, exits with
//   status 0 on SIGTERM;
// - /engine.io/: a bare Engine.IO server echoing every message unchanged;
// - /socket.io/: namespaces `/` and `/custom`; right after each connect the
//   server emits `auth` with the CONNECT payload (`{}` without one); on `/`,
//   `message` is answered with `message-back` and the same arguments, and
//   `message-with-ack` is acknowledged with the same arguments;
// - both with pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000;
//   `/refused` refuses every connection with Error("refused") and data
//   {code: 403} (for `siobridge conform --msgpack`);
// - with SIOBRIDGE_ALLOW_EIO3=1, both with allowEIO3 (socket.io 2.x clients);
// - with SIOBRIDGE_PARSER=msgpack, the Socket.IO server with
//   socket.io-msgpack-parser as its parser.
import http from 'node:http';
import { createRequire } from 'node:module';
import { Server as EngineServer } from 'engine.io';
import { Server } from 'socket.io';

const settings = {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1_000_000,
  allowEIO3: process.env.SIOBRIDGE_ALLOW_EIO3 === '1',
};

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const engine = new EngineServer(settings);
engine.attach(httpServer, { path: '/engine.io' });
engine.on('connection', (socket) => {
  socket.on('message', (data) => socket.send(data));
});

const parser = process.env.SIOBRIDGE_PARSER === 'msgpack'
  ? { parser: createRequire(import.meta.url)('socket.io-msgpack-parser') }
  : {};
const io = new Server(httpServer, { ...settings, ...parser, path: '/socket.io/', connectTimeout: 1000 });
io.of('/refused').use((socket, next) => {
  const error = new Error('refused');
  error.data = { code: 403 };
  next(error);
});
for (const name of ['/', '/custom']) {
  io.of(name).on('connection', (socket) => socket.emit('auth', socket.handshake.auth));
}
io.on('connection', (socket) => {
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});

httpServer.listen(Number(process.env.CONFORMANCE_PORT ?? 0), '127.0.0.1', () => {
  const { address, port } = httpServer.address();
  process.stdout.write(`listening on ${address}:${port}\n`);
});

process.once('SIGTERM', () => {
  engine.close();
  io.close(() => process.exit(0));
  // Pending long-polling GETs and keep-alive sockets would hold close() open.
  httpServer.closeAllConnections();
});
