// socket.io-client 4.8's browser bundle built with the msgpack parser
// (dist/socket.io.msgpack.min.js of the pinned socket.io-client, which
// bundles socket.io-msgpack-parser 3.0), in Debian's headless Chromium,
// against the test app started with SIOBRIDGE_PARSER=msgpack (siobridge's
// `socketio::Parser::Msgpack`; the reference test app passes
// socket.io-msgpack-parser as its `parser`), over polling, websocket and
// upgrade: the scenarios of the 4.8 browser suite
// (lib/socketio-browser-suite.mjs), plus what the wire looks like.
import assert from 'node:assert/strict';
import { defineBrowserSuite } from '../lib/socketio-browser-suite.mjs';

/** How page/harness.js `describe`s the ArrayBuffer of `bytes(length, seed)`. */
const arrayBuffer = (length, seed = 0) => ({
  type: 'ArrayBuffer',
  bytes: Array.from({ length }, (_, i) => (i * 7 + seed) % 256),
});

defineBrowserSuite({
  title: 'socket.io-client 4.8 + msgpack in Chromium',
  client: 'socket.io-client 4.8 + msgpack (Chromium)',
  suite: 'socketio-client-msgpack-chromium',
  page: '/msgpack.html',
  env: { SIOBRIDGE_PARSER: 'msgpack' },
  replace: {
    // The bundle's msgpack encoder (notepack.io's browser build) writes an
    // ArrayBuffer as msgpack bin, but a typed array as a map of its indices,
    // as against the reference server: the page sends ArrayBuffers only.
    binary: {
      async 'ArrayBuffers travel both ways byte for byte'(ctx) {
        const seen = await ctx.inPage(async ({ url, setup }) => {
          const { bytes, describe } = harness;
          const { socket } = await harness.connect(url, '/', setup);
          const ackSingle = describe(await harness.request(socket, 'echo', bytes(256).buffer));
          const nested = { name: 'file.bin', content: bytes(1000, 1).buffer, parts: [bytes(3, 2).buffer, 'text'] };
          const ackNested = describe(await harness.request(socket, 'echo', nested));

          const echoed = harness.once(socket, 'echo');
          socket.emit('echo', bytes(10, 3).buffer, 'between', bytes(70_000, 4).buffer);
          const eventArgs = describe(await echoed);

          let asked;
          socket.on('question', (data, ack) => {
            asked = describe(data);
            ack(new Uint8Array(data).reverse().buffer);
          });
          const answer = describe(await harness.request(socket, 'ask', { event: 'question', data: bytes(64, 5).buffer, timeout: 2000 }));
          return { ackSingle, ackNested, eventArgs, asked, answer };
        });
        const question = arrayBuffer(64, 5);
        assert.deepEqual(seen, {
          ackSingle: arrayBuffer(256),
          ackNested: { name: 'file.bin', content: arrayBuffer(1000, 1), parts: [arrayBuffer(3, 2), 'text'] },
          eventArgs: [arrayBuffer(10, 3), 'between', arrayBuffer(70_000, 4)],
          asked: question,
          answer: { err: null, reply: { type: 'ArrayBuffer', bytes: [...question.bytes].reverse() } },
        });
      },
    },
  },
  extra: {
    binary: {
      // With msgpack, binary is inline: no attachments, and every packet
      // (a CONNECT, a plain-text event) is one binary Engine.IO message.
      async 'every packet travels as one binary Engine.IO message'(ctx) {
        const seen = await ctx.inPage(async ({ url, setup }) => {
          const { socket } = await harness.connect(url, '/', setup);
          const kinds = [];
          const record = (data) => kinds.push(typeof data === 'string' ? 'text' : 'binary');
          socket.io.engine.on('data', record);
          const withBytes = harness.describe(await harness.request(socket, 'echo', { b: harness.bytes(4).buffer }));
          const plain = await harness.request(socket, 'echo', 'plain');
          socket.io.engine.off('data', record);
          return { withBytes, plain, kinds };
        });
        assert.deepEqual(seen, {
          withBytes: { b: { type: 'ArrayBuffer', bytes: [0, 7, 14, 21] } },
          plain: 'plain',
          kinds: ['binary', 'binary'],
        });
      },
    },
    'connect-auth': {
      async 'an unknown namespace is refused with "Invalid namespace"'(ctx) {
        const outcome = await ctx.inPage(({ url, setup }) => harness.attempt(url, '/nope', setup));
        assert.deepEqual(outcome, { event: 'connect_error', connected: false, message: 'Invalid namespace', data: null });
      },
    },
  },
});
