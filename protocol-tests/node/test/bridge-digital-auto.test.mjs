// Profile A, the digital.auto provider bridge (bridge-profiles.md §1): every
// scenario of §1.5 except #23 (manual interop), over websocket and polling,
// with socket.io-client 4.8 on `/` of `siobridge --profile /=digital-auto`,
// then all of them again with socket.io-client 2.5 (Engine.IO v3, Socket.IO
// protocol v4) on `siobridge --profile /=digital-auto --allow-eio3`: the
// profile works unchanged for socket.io 2.x clients.
//
// One bridge per transport serves every scenario: a scenario's sockets are
// new, and its providers register before anything relies on them, so an
// entry left by an earlier scenario is always taken over (R-A2) and an old
// subscription belongs to a socket nobody watches.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBridge } from '../lib/bridge.mjs';
import { SCENARIO_TIMEOUT_MS, TRANSPORTS, anyOrder, bridgeClients, settle } from '../lib/bridge-clients.mjs';

const register = (socket, providerId, name = 'Prov') => socket.emit('register_provider', { provider_id: providerId, name });
const subscribe = (socket, providerId) => socket.emit('register_client', { master_provider_id: providerId });
const request = (socket, payload) => socket.emit('request_provider', payload);
const newRequest = (payload) => ['new_request', payload];
const fromProvider = (payload) => ['message_from_provider', payload];

const CLIENTS = [
  { title: '', v2: false, args: [] },
  { title: ' with socket.io-client 2.5', v2: true, args: ['--allow-eio3'] },
];

for (const [kind, transport] of CLIENTS.flatMap((k) => TRANSPORTS.map((t) => [k, t]))) {
  describe(`digital-auto${kind.title} over ${transport}`, () => {
    let bridge;
    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=digital-auto', ...kind.args] });
    });
    after(() => bridge?.stop());

    const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
      const clients = bridgeClients(bridge.url, transport, {}, { v2: kind.v2 });
      t.after(() => clients.close());
      await body(clients);
    });

    scenario('1. round trip', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
      const forwarded = { request_from: C1.id, to_provider_id: 'P1', cmd: 'double_me', data: 21 };
      await clients.expect({ P: [newRequest(forwarded)] });
      P.emit('provider_reply', { ...forwarded, result: 42 });
      // P receives nothing more: expect() checks every client not named.
      await clients.expect({ C1: [['provider_reply', { ...forwarded, result: 42 }]] });
    });

    scenario('2. reply only to requester', async (clients) => {
      const { P, C1, C2 } = await clients.connect(['P', 'C1', 'C2']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      subscribe(C2, 'P1');
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
      const forwarded = { request_from: C1.id, to_provider_id: 'P1', cmd: 'double_me', data: 21 };
      await clients.expect({ P: [newRequest(forwarded)] });
      P.emit('provider_reply', { ...forwarded, result: 42 });
      await clients.expect({ C1: [['provider_reply', { ...forwarded, result: 42 }]] });
    });

    scenario('3. requester need not be subscribed', async (clients) => {
      const { P, C3 } = await clients.connect(['P', 'C3']);
      register(P, 'P1');
      await settle();
      request(C3, { to_provider_id: 'P1', cmd: 'ping' });
      const forwarded = { request_from: C3.id, to_provider_id: 'P1', cmd: 'ping' };
      await clients.expect({ P: [newRequest(forwarded)] });
      P.emit('provider_reply', { ...forwarded, result: 'pong' });
      await clients.expect({ C3: [['provider_reply', { ...forwarded, result: 'pong' }]] });
    });

    // The setup of scenarios 4 and 5.
    async function twoProvidersFourClients(clients) {
      const sockets = await clients.connect(['P', 'P2', 'C1', 'C2', 'C3', 'C4']);
      const { P, P2, C1, C2, C3 } = sockets;
      subscribe(C1, 'P1');
      subscribe(C2, 'P1');
      subscribe(C3, 'P2');
      register(P, 'P1');
      register(P2, 'P2');
      await settle();
      return sockets;
    }

    scenario('4. broadcast to subscribers', async (clients) => {
      const { P } = await twoProvidersFourClients(clients);
      const message = { provider_id: 'P1', cmd: 'showSpeed', data: 7 };
      P.emit('sent_to_my_clients', message);
      await clients.expect({ C1: [fromProvider(message)], C2: [fromProvider(message)] });
    });

    scenario('5. documented alias send_to_all_clients, with and without provider_id', async (clients) => {
      const { P } = await twoProvidersFourClients(clients);
      const explicit = { provider_id: 'P1', cmd: 'a', data: 1 };
      P.emit('send_to_all_clients', explicit);
      await clients.expect({ C1: [fromProvider(explicit)], C2: [fromProvider(explicit)] });
      // [CHOICE] no provider_id: every id P holds, here only P1.
      const bare = { cmd: 'b', data: 2 };
      P.emit('send_to_all_clients', bare);
      await clients.expect({ C1: [fromProvider(bare)], C2: [fromProvider(bare)] });
    });

    scenario('6. unknown provider', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      request(C1, { to_provider_id: 'NOPE', cmd: 'x' });
      await clients.expect({});
      assert.equal(C1.connected, true);
      request(C1, { to_provider_id: 'P1', cmd: 'double_me', data: 21 });
      await clients.expect({ P: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'double_me', data: 21 })] });
    });

    scenario('7. invalid requests dropped', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      await settle();
      request(C1, { cmd: 'x' });
      request(C1, { to_provider_id: 'P1' });
      request(C1, { to_provider_id: 'P1', cmd: '' });
      request(C1, { to_provider_id: 'P1', cmd: 0 });
      request(C1, { to_provider_id: '', cmd: 'x' });
      request(C1, 'P1');
      C1.emit('request_provider');
      await clients.expect({});
      assert.equal(C1.connected, true);
      // P was registered all along: a valid request still reaches it.
      request(C1, { to_provider_id: 'P1', cmd: 'valid' });
      await clients.expect({ P: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'valid' })] });
    });

    scenario('8. extra fields forwarded', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      await settle();
      const payload = { to_provider_id: 'P1', cmd: 'set_data', data: 3, vss: [1, 2, 3] };
      request(C1, payload);
      await clients.expect({ P: [newRequest({ ...payload, request_from: C1.id })] });
    });

    scenario('9. spoofed request_from overwritten [CHOICE]', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'x', request_from: 'evil' });
      await clients.expect({ P: [newRequest({ to_provider_id: 'P1', cmd: 'x', request_from: C1.id })] });
    });

    scenario('10. reply routing guards', async (clients) => {
      const { P, C1, C2 } = await clients.connect(['P', 'C1', 'C2']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      subscribe(C2, 'P1');
      await settle();
      P.emit('provider_reply', { result: 1 });
      P.emit('provider_reply', { request_from: 'not-a-socket', result: 1 });
      // [CHOICE] a group name is not a socket id.
      P.emit('provider_reply', { request_from: 'P1', result: 1 });
      await clients.expect({});
    });

    scenario('11. requester gone', async (clients) => {
      const { P, C1, C2 } = await clients.connect(['P', 'C1', 'C2']);
      register(P, 'P1');
      subscribe(C2, 'P1');
      await settle();
      const requester = C1.id;
      request(C1, { to_provider_id: 'P1', cmd: 'slow' });
      const forwarded = { request_from: requester, to_provider_id: 'P1', cmd: 'slow' };
      await clients.expect({ P: [newRequest(forwarded)] });
      C1.disconnect();
      await settle();
      P.emit('provider_reply', { ...forwarded, result: 1 });
      await clients.expect({});
      assert.equal(P.connected, true);
    });

    scenario('12. provider disconnect and re-register', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      P.disconnect();
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'lost' });
      await clients.expect({});

      const { Pb } = await clients.connect('Pb');
      register(Pb, 'P1');
      await settle();
      const message = { provider_id: 'P1', cmd: 'c', data: 0 };
      Pb.emit('sent_to_my_clients', message);
      // No new register_client: the subscription outlived the provider.
      await clients.expect({ C1: [fromProvider(message)] });
      request(C1, { to_provider_id: 'P1', cmd: 'again' });
      await clients.expect({ Pb: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'again' })] });
    });

    scenario('13. takeover (last wins)', async (clients) => {
      const { P, Pb, C1 } = await clients.connect(['P', 'Pb', 'C1']);
      subscribe(C1, 'P1');
      register(P, 'P1');
      await settle();
      register(Pb, 'P1');
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'first' });
      await clients.expect({ Pb: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'first' })] });

      P.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'x' });
      await clients.expect({});
      // C1 is subscribed: the new holder's broadcast does reach it.
      Pb.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'y' });
      await clients.expect({ C1: [fromProvider({ provider_id: 'P1', cmd: 'y' })] });

      P.disconnect();
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'second' });
      await clients.expect({ Pb: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'second' })] });
    });

    scenario('14. broadcast ownership', async (clients) => {
      const { P, X, C1 } = await clients.connect(['P', 'X', 'C1']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      X.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'x' });
      await clients.expect({});
      // The holder's own broadcast does reach C1.
      P.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'real' });
      await clients.expect({ C1: [fromProvider({ provider_id: 'P1', cmd: 'real' })] });
    });

    scenario('15. subscribe before provider exists', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      subscribe(C1, 'P9');
      await settle();
      register(P, 'P9');
      await settle();
      const message = { provider_id: 'P9', cmd: 'x', data: 1 };
      P.emit('sent_to_my_clients', message);
      await clients.expect({ C1: [fromProvider(message)] });
    });

    scenario('16. multiple subscriptions [CHOICE: additive]', async (clients) => {
      const { P, P2, C1 } = await clients.connect(['P', 'P2', 'C1']);
      subscribe(C1, 'P1');
      subscribe(C1, 'P2');
      subscribe(C1, 'P1');
      register(P, 'P1');
      register(P2, 'P2');
      await settle();
      const one = { provider_id: 'P1', cmd: 'one' };
      const two = { provider_id: 'P2', cmd: 'two' };
      P.emit('sent_to_my_clients', one);
      P2.emit('sent_to_my_clients', two);
      await clients.expect({ C1: anyOrder([fromProvider(one), fromProvider(two)]) });
    });

    scenario('17. dual role socket', async (clients) => {
      const { P, S, C1 } = await clients.connect(['P', 'S', 'C1']);
      S.emit('register_client', { master_provider_id: 'P1' });
      S.emit('register_provider', { provider_id: 'M1', name: 'x' });
      register(P, 'P1');
      await settle();
      const message = { provider_id: 'P1', cmd: 'showSpeed', data: 1 };
      P.emit('sent_to_my_clients', message);
      await clients.expect({ S: [fromProvider(message)] });
      request(C1, { to_provider_id: 'M1', cmd: 'hello' });
      await clients.expect({ S: [newRequest({ request_from: C1.id, to_provider_id: 'M1', cmd: 'hello' })] });
    });

    scenario('18. self-subscribed provider', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      subscribe(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      const message = { provider_id: 'P1', cmd: 'self', data: 1 };
      P.emit('sent_to_my_clients', message);
      await clients.expect({ P: [fromProvider(message)], C1: [fromProvider(message)] });
    });

    scenario('19. one socket, several ids', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      register(P, 'P2');
      await settle();
      request(C1, { to_provider_id: 'P2', cmd: 'which' });
      await clients.expect({ P: [newRequest({ request_from: C1.id, to_provider_id: 'P2', cmd: 'which' })] });
      P.disconnect();
      await settle();
      request(C1, { to_provider_id: 'P1', cmd: 'gone' });
      request(C1, { to_provider_id: 'P2', cmd: 'gone' });
      await clients.expect({});
    });

    scenario('20. invalid register payloads', async (clients) => {
      const { P, Q, C1, C2 } = await clients.connect(['P', 'Q', 'C1', 'C2']);
      Q.emit('register_provider', { name: 'x' });
      Q.emit('register_provider', { provider_id: '' });
      Q.emit('register_provider', { provider_id: 5 });
      await settle();
      request(C1, { to_provider_id: '', cmd: 'x' });
      request(C1, { to_provider_id: 5, cmd: 'x' });
      // Ids a careless implementation would have stringified.
      request(C1, { to_provider_id: '5', cmd: 'x' });
      request(C1, { to_provider_id: 'undefined', cmd: 'x' });
      await clients.expect({});

      // `register_client {}` subscribes Q to nothing, not to "undefined".
      Q.emit('register_client', {});
      subscribe(C2, 'undefined');
      register(P, 'undefined');
      await settle();
      const message = { provider_id: 'undefined', cmd: 'x' };
      P.emit('sent_to_my_clients', message);
      await clients.expect({ C2: [fromProvider(message)] });
    });

    scenario('21. ordering', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      const messages = Array.from({ length: 10 }, (_, i) => ({ provider_id: 'P1', cmd: 'showSpeed', data: i }));
      for (const message of messages) P.emit('sent_to_my_clients', message);
      await clients.expect({ C1: messages.map(fromProvider) });
    });

    scenario('22. unknown namespace', async (clients) => {
      const error = await clients.connectError('/other');
      assert.equal(error.message, 'Invalid namespace');
    });

    // Rules of §0.2 and §1.3 that no numbered scenario isolates.

    scenario('rule 0.2.5/0.2.8: only the first argument counts; one argument goes out', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      subscribe(C1, 'P1');
      await settle();
      C1.emit('request_provider', { to_provider_id: 'P1', cmd: 'x' }, 'extra', 2);
      await clients.expect({ P: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'x' })] });
      P.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'y' }, 'extra');
      await clients.expect({ C1: [fromProvider({ provider_id: 'P1', cmd: 'y' })] });
    });

    scenario('rule 0.2.7/R-A1: unknown events and non-object payloads are ignored', async (clients) => {
      const { P, C1 } = await clients.connect(['P', 'C1']);
      register(P, 'P1');
      await settle();
      C1.emit('list_providers', {});
      C1.emit('REQUEST_PROVIDER', { to_provider_id: 'P1', cmd: 'x' });
      C1.emit('request_provider', [{ to_provider_id: 'P1', cmd: 'x' }]);
      C1.emit('register_client', 'P1');
      P.emit('sent_to_my_clients', 'P1');
      await clients.expect({});
      assert.equal(C1.connected, true);
      request(C1, { to_provider_id: 'P1', cmd: 'still here' });
      await clients.expect({ P: [newRequest({ request_from: C1.id, to_provider_id: 'P1', cmd: 'still here' })] });
    });

    scenario('rule R-A5: any socket may reply; the reply goes to request_from unchanged', async (clients) => {
      const { C1, C2 } = await clients.connect(['C1', 'C2']);
      const reply = { request_from: C1.id, result: 'from a bystander', extra: [1, { deep: true }] };
      C2.emit('provider_reply', reply);
      await clients.expect({ C1: [['provider_reply', reply]] });
    });

    scenario('rule R-A6: a bare broadcast goes to every id the sender holds, once per id', async (clients) => {
      const { P, C1, C2 } = await clients.connect(['P', 'C1', 'C2']);
      register(P, 'P1');
      register(P, 'P2');
      subscribe(C1, 'P1');
      subscribe(C1, 'P2');
      subscribe(C2, 'P2');
      await settle();
      const bare = { cmd: 'all', data: 1 };
      P.emit('send_to_all_clients', bare);
      await clients.expect({ C1: [fromProvider(bare), fromProvider(bare)], C2: [fromProvider(bare)] });
    });
  });
}
