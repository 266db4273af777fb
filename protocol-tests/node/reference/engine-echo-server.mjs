// Test-only oracle: the conformance server contract implemented with the
// official `engine.io` package, so the suites can be validated before (and
// compared against) siobridge's own conformance example.
//
// Contract:
// - listens on 127.0.0.1, port from CONFORMANCE_PORT (0 = ephemeral);
// - prints `listening on 127.0.0.1:<port>` as its first stdout line;
// - serves a bare Engine.IO v4 server at /engine.io/ that echoes every
//   message back unchanged (text as text, binary as binary);
// - pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000 bytes,
//   transports polling + websocket, upgrades allowed;
// - exits with status 0 on SIGTERM.
import http from 'node:http';
import { Server } from 'engine.io';

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const engine = new Server({
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1_000_000,
  transports: ['polling', 'websocket'],
  allowUpgrades: true,
  // As siobridge's conformance example with the same variable.
  allowEIO3: process.env.SIOBRIDGE_ALLOW_EIO3 === '1',
});
engine.attach(httpServer, { path: '/engine.io' });

engine.on('connection', (socket) => {
  // Buffers come back as binary packets, strings as text packets.
  socket.on('message', (data) => socket.send(data));
});

httpServer.listen(Number(process.env.CONFORMANCE_PORT ?? 0), '127.0.0.1', () => {
  const { address, port } = httpServer.address();
  process.stdout.write(`listening on ${address}:${port}\n`);
});

process.once('SIGTERM', () => {
  engine.close();
  httpServer.close(() => process.exit(0));
  // Pending long-polling GETs and keep-alive sockets would hold close() open.
  httpServer.closeAllConnections();
});
