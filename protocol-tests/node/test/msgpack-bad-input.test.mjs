// Bad input for the msgpack parser, by hand over WebSocket, against the test
// app with SIOBRIDGE_PARSER=msgpack (and the Node reference with
// socket.io-msgpack-parser): each hostile packet closes the connection, as
// the reference closes on any decoding error ("parse error"), and a
// well-behaved client is served afterwards. The headers that claim 2^32
// elements or bytes must be refused before anything is allocated: the
// server's memory is checked to stay put.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import { engineSocket, rss, within } from '../lib/hostile.mjs';
import { startServer } from '../lib/server.mjs';
import { first } from '../lib/wait.mjs';

const require = createRequire(import.meta.url);
const parser = require('socket.io-msgpack-parser');
const { encode, decode } = require('notepack.io');

const hex = (h) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
// {type: 2, nsp: "/", data: <rest>}
const event = (data) => Buffer.concat([hex('83 a474797065 02 a36e7370 a12f a464617461'), data]);

const CASES = {
  'an array header claiming 2^32 - 1 elements': event(hex('dd ffffffff c0')),
  'a map header claiming 2^32 - 1 entries': hex('df ffffffff a474797065 02'),
  'a string header claiming 4 GiB': event(hex('91 db ffffffff 61')),
  'a binary header claiming 4 GiB': event(hex('92 a165 c6 ffffffff 00')),
  'arrays nested 100,000 deep': event(Buffer.alloc(100_000, 0x91)),
  'a BINARY_EVENT type (5), which this parser has not': encode({ type: 5, nsp: '/', data: ['e'] }),
  'a namespace that is not a string': encode({ type: 2, nsp: 1, data: ['e'] }),
  'a truncated packet': encode({ type: 2, nsp: '/', data: ['echo', 'x'.repeat(40)] }).subarray(0, 30),
  'a text message': '42["echo","text"]',
};

let server;
let wsUrl;
before(async () => {
  server = await startServer({ app: 'testapp', env: { SIOBRIDGE_PARSER: 'msgpack' } });
  wsUrl = `${server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
});
after(() => server?.stop());

async function servedAfterwards() {
  const socket = io(server.url, { forceNew: true, reconnection: false, transports: ['websocket'], parser });
  try {
    const { event: got } = await first(socket, ['connect', 'connect_error']);
    assert.equal(got, 'connect');
    assert.equal(await socket.timeout(3000).emitWithAck('echo', 'still here'), 'still here');
  } finally {
    socket.disconnect();
  }
}

for (const [name, input] of Object.entries(CASES)) {
  test(`${name} closes the connection`, async () => {
    const before = await rss(server.pid);
    for (let run = 0; run < 3; run++) {
      const socket = await engineSocket(wsUrl);
      socket.send(encode({ type: 0, nsp: '/' }));
      const connected = decode(await socket.next());
      assert.equal(connected.type, 0);
      assert.equal(typeof connected.data.sid, 'string');
      socket.send(input);
      await within(socket.closed, 3000, 'the server to close the connection');
      await servedAfterwards();
    }
    const grown = (await rss(server.pid)) - before;
    assert.ok(grown < 64 * 1024 * 1024, `the server grew by ${grown} bytes`);
  });
}
