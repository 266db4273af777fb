// The bridge profiles with msgpack clients: `siobridge --parser msgpack`
// (the reference bridge takes the same flag) and socket.io-client 4.8 with
// socket.io-msgpack-parser, over websocket and polling: digital.auto
// scenarios 1 and 2 (bridge-profiles.md §1.5) and chat scenarios 1 to 3
// (§4.4), exactly as the JSON suites run them; the profiles see the same
// events whatever the parser.
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { startBridge } from '../lib/bridge.mjs';
import { SCENARIO_TIMEOUT_MS, TRANSPORTS, bridgeClients, settle } from '../lib/bridge-clients.mjs';

const parser = createRequire(import.meta.url)('socket.io-msgpack-parser');
const message = (text) => ['message', text];

for (const transport of TRANSPORTS) {
  describe(`digital-auto with msgpack over ${transport}`, () => {
    let bridge;
    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=digital-auto', '--parser', 'msgpack'] });
    });
    after(() => bridge?.stop());

    const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
      const clients = bridgeClients(bridge.url, transport, { parser });
      t.after(() => clients.close());
      await body(clients);
    });

    scenario('1. round trip', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      P.emit('register_provider', { provider_id: 'P1', name: 'Prov' });
      C1.emit('register_client', { master_provider_id: 'P1' });
      await settle();
      C1.emit('request_provider', { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
      const forwarded = { request_from: C1.id, to_provider_id: 'P1', cmd: 'double_me', data: 21 };
      await clients.expect({ P: [['new_request', forwarded]] });
      P.emit('provider_reply', { ...forwarded, result: 42 });
      await clients.expect({ C1: [['provider_reply', { ...forwarded, result: 42 }]] });
    });

    scenario('2. reply only to requester; broadcasts to subscribers', async (clients) => {
      const { P, C1, C2 } = await clients.connect(['P', 'C1', 'C2']);
      P.emit('register_provider', { provider_id: 'P1', name: 'Prov' });
      C1.emit('register_client', { master_provider_id: 'P1' });
      C2.emit('register_client', { master_provider_id: 'P1' });
      await settle();
      C1.emit('request_provider', { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
      const forwarded = { request_from: C1.id, to_provider_id: 'P1', cmd: 'double_me', data: 21 };
      await clients.expect({ P: [['new_request', forwarded]] });
      P.emit('provider_reply', { ...forwarded, result: 42 });
      await clients.expect({ C1: [['provider_reply', { ...forwarded, result: 42 }]] });
      const hello = { provider_id: 'P1', cmd: 'hello', data: 1 };
      P.emit('sent_to_my_clients', hello);
      await clients.expect({ C1: [['message_from_provider', hello]], C2: [['message_from_provider', hello]] });
    });
  });

  describe(`chat with msgpack over ${transport}`, () => {
    let bridge;
    let clients;
    let A, B;
    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=chat', '--parser', 'msgpack'] });
      clients = bridgeClients(bridge.url, transport, { parser });
      ({ A, B } = await clients.connect(['A', 'B', 'C']));
    });
    after(async () => {
      clients?.close();
      await bridge?.stop();
    });
    const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, () => body());

    scenario('1. echo', async () => {
      A.emit('message', 'hi');
      await clients.expect({ A: [message('hi')] });
    });

    scenario('2. broadcast includes sender', async () => {
      A.emit('my event', { n: 1 });
      const response = ['my response', { n: 1 }];
      await clients.expect({ A: [response], B: [response], C: [response] });
    });

    scenario('3. join', async () => {
      A.emit('join', { username: 'ann', room: 'r' });
      await clients.expect({ A: [message('ann has entered the room.')] });
      B.emit('join', { username: 'bob', room: 'r' });
      await clients.expect({ A: [message('bob has entered the room.')], B: [message('bob has entered the room.')] });
    });
  });
}
