// Prints what @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1
// really put on Redis, one line per message: `<name> <channel> <hex>`.
// The known-answer fixtures of src/cluster/codec.rs were made with it:
//   REDIS_URL=redis://127.0.0.1:PORT node reference/redis-capture.mjs \
//     > ../../src/cluster/fixtures/node-messages.txt
// Two Node servers share the Redis (so that requests are published: a lone
// node answers them itself); a raw subscriber records every message.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { Redis } from "ioredis";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const clients = [];
const redis = () => {
  const c = new Redis(url);
  clients.push(c);
  return c;
};

const spy = redis();
const seen = [];
let label = "";
spy.on("pmessageBuffer", (_pattern, channel, message) => {
  seen.push(`${label} ${channel.toString()} ${message.toString("hex")}`);
});
await spy.psubscribe("socket.io*");

async function node() {
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(redis(), redis(), { requestsTimeout: 300 }),
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return { io, http, port: http.address().port };
}

const a = await node();
const b = await node();
// Fixed ids make the captured bytes readable; the uid is random per run.
const client = connect(`http://127.0.0.1:${b.port}`, { transports: ["websocket"] });
const socketOnA = await new Promise((resolve) => {
  a.io.on("connection", resolve);
  connect(`http://127.0.0.1:${a.port}`, { transports: ["websocket"] });
});
await new Promise((r) => client.on("connect", r));
b.io.on("ping-servers", (arg, ack) => ack?.({ pong: arg }));
b.io.on("connection", (s) => s.on("n", (x, ack) => ack(x)));

const settle = () => new Promise((r) => setTimeout(r, 100));
const step = async (name, f) => {
  label = name;
  await f();
  await settle();
};

await step("emit-all", () => a.io.emit("hello", "world"));
await step("emit-room-binary", () =>
  a.io.to("room1").emit("hello", "world", Buffer.from([1, 2, 3])),
);
await step("emit-rooms-except", () =>
  a.io.to(["r1", "r2"]).except("r3").emit("ev", { n: 1, neg: -5, f: 1.5, big: 2 ** 40 }),
);
await step("emit-volatile", () => a.io.volatile.emit("v", null, true, false));
await step("emit-compress", () => a.io.compress(false).emit("c", []));
await step("emit-date", () => a.io.emit("d", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))));
await step("emit-nsp", () => a.io.of("/custom").emit("x", 1));
await step("socket-broadcast", () => socketOnA.broadcast.emit("b", "from-socket"));
await step("socket-to-room", () => socketOnA.to("room9").emit("t", 1));
await step("fetch-sockets", () => a.io.in("room1").fetchSockets().catch(() => {}));
await step("all-rooms", () => a.io.of("/").adapter.allRooms().catch(() => {}));
await step("sockets-join", () => a.io.except("x").socketsJoin(["j1", "j2"]));
await step("sockets-leave", () => a.io.in("j1").socketsLeave("j2"));
await step("disconnect-sockets", () => a.io.in("nobody").disconnectSockets(true));
await step("server-side-emit", () => a.io.serverSideEmit("hi", 1, "two"));
await step("server-side-emit-ack", () =>
  a.io.serverSideEmitWithAck("ping-servers", 7).catch(() => {}),
);
await step("broadcast-ack", () =>
  a.io.timeout(300).emitWithAck("n", 5).catch(() => {}),
);

const emitter = new Emitter(redis());
await step("emitter-all", () => emitter.emit("e", "v"));
await step("emitter-room", () => emitter.to("room1").except("room2").emit("e", Buffer.from([9])));
await step("emitter-volatile-nsp", () => emitter.of("/custom").volatile.emit("e"));
await step("emitter-join", () => emitter.in("room1").socketsJoin("room3"));
await step("emitter-leave", () => emitter.socketsLeave("room3"));
await step("emitter-disconnect", () => emitter.in("room3").disconnectSockets());
await step("emitter-server-side-emit", () => emitter.serverSideEmit("hi", 1));

console.log(seen.join("\n"));
a.io.close();
b.io.close();
client.close();
for (const c of clients) c.disconnect();
process.exit(0);
