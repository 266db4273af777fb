// The bench contract on the Node reference server (socket.io 4.8), for
// benches/run. `PORT=0 node server.mjs` listens on 127.0.0.1 and prints
// `listening on 127.0.0.1:PORT`. Every setting is socket.io's default.
//
// - `echo`: acknowledged with the same arguments;
// - `broadcast`: re-emitted as `msg`, with the same arguments, to every socket
//   on `/`, the sender included;
// - `join`: the socket joins the room its argument names, then acks;
// - `to-room`: re-emitted as `msg` to the room its argument's `room` names.
import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer);

// REDIS_URL=redis://HOST:PORT: one node of a cluster on that Redis, with
// @socket.io/redis-adapter's defaults (benches/run's cluster-fanout).
if (process.env.REDIS_URL) {
  const { Redis } = await import("ioredis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = new Redis(process.env.REDIS_URL);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub));
}

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("broadcast", (...args) => {
    if (typeof args.at(-1) === "function") args.pop();
    io.emit("msg", ...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("to-room", (...args) => {
    if (typeof args.at(-1) === "function") args.pop();
    io.to(args[0].room).emit("msg", ...args);
  });
});

httpServer.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${httpServer.address().port}`);
});

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
