// Connection state recovery in the bridge (`siobridge --state-recovery
// SECONDS`, or SIOBRIDGE_STATE_RECOVERY): a member whose network blips for
// about a second comes back with its socket id and its subscriptions or
// rooms, and gets what was sent meanwhile, once and in order, with the offset
// the server appends as the last argument. Over websocket and polling, with
// socket.io-client 4.8:
// - digital-auto (bridge-profiles.md §1): a client subscribed to a provider
//   misses none of the provider's broadcasts;
// - chat (§4): a member of a room gets the room's messages sent meanwhile
//   and stays in the room.
// siobridge only (the reference bridge drops a member's profile state when
// its socket disconnects, whatever the reason; the spec says nothing of
// recovery), as siobridge keeps it for the window:
// - digital-auto: a provider that blips keeps its provider id and gets the
//   requests sent to it while it was away, and its replies reach the
//   requester;
// - hubtel (§2): a channel member that blips stays present: the others get
//   no leave notice and no new count, and it gets the channel's messages
//   sent meanwhile.
// The blip is real: the client goes through a TCP relay (lib/blip-proxy.mjs)
// that closes its connections and refuses new ones for the blip; the bridge's
// /metrics (`siobridge_sockets`) tells when the bridge has dropped the socket.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBlipProxy } from '../lib/blip-proxy.mjs';
import { startBridge } from '../lib/bridge.mjs';
import { EVT, SCENARIO_TIMEOUT_MS, TRANSPORTS, settle } from '../lib/bridge-clients.mjs';
import { eventually } from '../lib/hostile.mjs';
import { request } from '../lib/raw.mjs';
import { recorder } from '../lib/recovery-scenarios.mjs';
import { first, once } from '../lib/wait.mjs';

const onReferenceBridge = !process.env.SIOBRIDGE_BIN;
const SIOBRIDGE_ONLY = onReferenceBridge && 'siobridge only: the reference bridge drops the profile state at disconnect';

/** A hubtel envelope (bridge-profiles.md §2.4, `env`). */
function envelope(socket, channel, message, userName) {
  return {
    data: { message, roomId: null, roomChannel: channel },
    time: '2021-09-01T12:00:00.000Z',
    clientId: socket.id,
    source: { platform: 'web', appName: 'Sample App Name', appVersion: '1.0.0', clientId: socket.id, userName, channel },
  };
}

// The bridge's window, and how long a blip lasts.
const WINDOW_SECONDS = '30';
const BLIP_MS = 1000;

/** `siobridge_sockets{namespace}` from the bridge's /metrics. */
async function socketsOn(url, namespace) {
  const { body } = await request(`${url}/metrics`);
  let total = 0;
  for (const line of body.split('\n')) {
    const match = /^siobridge_sockets\{([^}]*)\} (\S+)$/.exec(line);
    if (match && match[1].split(',').includes(`namespace="${namespace}"`)) total += Number(match[2]);
  }
  return total;
}

/** The payloads of `event` in `log`, each checked to carry one trailing offset. */
function payloads(log, event) {
  return log.of(event).map(({ args }) => {
    assert.equal(args.length, 2, `${event} ${JSON.stringify(args)}: the payload and the server's offset`);
    assert.equal(typeof args[1], 'string');
    return args[0];
  });
}

for (const transport of TRANSPORTS) {
  describe(`bridge state recovery over ${transport}`, () => {
    // A world per scenario: its own bridge (so that no socket of another
    // scenario is counted), the relay, and clients straight to the bridge or
    // (the roamer) through the relay with reconnection on.
    async function world(t) {
      const bridge = await startBridge({
        args: ['--profile', '/=digital-auto', '--profile', '/chat=chat', '--profile', '/hubtel=hubtel', '--state-recovery', WINDOW_SECONDS],
      });
      const proxy = await startBlipProxy(bridge.port);
      const sockets = [];
      t.after(async () => {
        for (const socket of sockets) socket.disconnect();
        await proxy.close();
        await bridge.stop();
      });
      const open = async (nsp, { roaming = false } = {}) => {
        const socket = io(`${roaming ? proxy.url : bridge.url}${nsp}`, {
          forceNew: true,
          transports: [transport],
          reconnection: roaming,
          reconnectionDelay: 50,
          reconnectionDelayMax: 100,
          randomizationFactor: 0,
        });
        sockets.push(socket);
        const log = recorder(socket);
        const { event, args } = await first(socket, ['connect', 'connect_error'], { timeoutMs: EVT });
        if (event !== 'connect') throw new Error(`could not connect to ${nsp}: ${args[0]?.message}`);
        return { socket, log };
      };
      // Cuts the roamer off for BLIP_MS, the bridge having dropped it (then
      // `others` sockets are left on `nsp`); `meanwhile` runs while it is away.
      const blip = async (roamer, nsp, others, meanwhile) => {
        // Over polling, a bridge with its default heartbeat (25 s + 20 s)
        // notices a cut at once only if a long-poll GET is pending: once the
        // client's last POST is answered (SETTLE), the request it waits on.
        if (transport === 'polling') {
          await settle();
          await eventually(() => proxy.waiting > 0, { timeoutMs: EVT, what: 'a pending long-poll request' });
        }
        const started = Date.now();
        const reason = once(roamer.socket, 'disconnect', { timeoutMs: EVT });
        proxy.cut({ down: true });
        assert.match((await reason)[0], /^transport (close|error)$/);
        await eventually(async () => (await socketsOn(bridge.url, nsp)) === others, { timeoutMs: EVT, what: `the bridge to drop the socket on ${nsp}` });
        await meanwhile();
        await sleep(Math.max(0, BLIP_MS - (Date.now() - started)));
        const back = once(roamer.socket, 'connect', { timeoutMs: EVT });
        proxy.up();
        await back;
      };
      return { open, blip };
    }

    test('digital-auto: a subscribed client that blips misses no provider broadcast', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
      const { open, blip } = await world(t);
      const provider = await open('/');
      const watcher = await open('/');
      const roamer = await open('/', { roaming: true });
      provider.socket.emit('register_provider', { provider_id: 'P1', name: 'Prov' });
      for (const { socket } of [watcher, roamer]) socket.emit('register_client', { master_provider_id: 'P1' });
      await settle();
      const broadcast = async (data) => {
        const seen = watcher.log.until((e) => e.event === 'message_from_provider' && e.args[0].data === data, { what: `broadcast ${data}` });
        provider.socket.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'speed', data });
        await seen;
      };
      await broadcast(1);
      await roamer.log.until((e) => e.event === 'message_from_provider', { what: 'the first broadcast' });
      const id = roamer.socket.id;

      await blip(roamer, '/', 2, async () => {
        for (const data of [2, 3, 4]) await broadcast(data);
      });
      assert.equal(roamer.socket.recovered, true);
      assert.equal(roamer.socket.id, id);
      await broadcast(5);
      await roamer.log.until((e) => e.event === 'message_from_provider' && e.args[0].data === 5, { what: 'the broadcast after the blip' });
      assert.deepEqual(payloads(roamer.log, 'message_from_provider').map(({ data }) => data), [1, 2, 3, 4, 5]);
      // The provider still reaches the watcher exactly once each time.
      assert.deepEqual(payloads(watcher.log, 'message_from_provider').map(({ data }) => data), [1, 2, 3, 4, 5]);
    });

    test('chat: a member that blips keeps its room and gets the messages sent meanwhile', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
      const { open, blip } = await world(t);
      const bob = await open('/chat');
      const ann = await open('/chat', { roaming: true });
      const entered = (member, name) => member.log.until((e) => e.event === 'message' && e.args[0] === `${name} has entered the room.`, { what: `${name} entering` });
      ann.socket.emit('join', { username: 'ann', room: 'r' });
      await entered(ann, 'ann');
      bob.socket.emit('join', { username: 'bob', room: 'r' });
      await Promise.all([entered(ann, 'bob'), entered(bob, 'bob')]);
      const id = ann.socket.id;
      const history = (member, length) => member.log.until(
        (e) => e.event === 'newMessage/r' && e.args[0].all_messages.length === length,
        { what: `a history of ${length}` },
      );

      await blip(ann, '/chat', 1, async () => {
        bob.socket.emit('send_message', { room: 'r', content: 'm1' });
        await history(bob, 1);
        bob.socket.emit('send_message', { room: 'r', content: 'm2' });
        await history(bob, 2);
      });
      assert.equal(ann.socket.recovered, true);
      assert.equal(ann.socket.id, id);
      ann.socket.emit('send_message', { room: 'r', content: 'm3' });
      await Promise.all([history(ann, 3), history(bob, 3)]);
      assert.deepEqual(payloads(ann.log, 'newMessage/r'), [
        { all_messages: ['m1'] },
        { all_messages: ['m1', 'm2'] },
        { all_messages: ['m1', 'm2', 'm3'] },
      ]);
      assert.deepEqual(payloads(bob.log, 'newMessage/r').length, 3);
    });

    test('digital-auto: a provider that blips keeps its id and gets the requests sent meanwhile', { timeout: SCENARIO_TIMEOUT_MS, skip: SIOBRIDGE_ONLY }, async (t) => {
      const { open, blip } = await world(t);
      const client = await open('/');
      const provider = await open('/', { roaming: true });
      provider.socket.emit('register_provider', { provider_id: 'P1', name: 'Prov' });
      client.socket.emit('register_client', { master_provider_id: 'P1' });
      provider.socket.on('new_request', (request) => provider.socket.emit('provider_reply', { ...request, result: request.data * 2 }));
      await settle();
      const ask = (data) => client.socket.emit('request_provider', { to_provider_id: 'P1', cmd: 'double_me', data });
      const replied = (data) => client.log.until((e) => e.event === 'provider_reply' && e.args[0].data === data, { what: `the reply to ${data}` });
      ask(1);
      await replied(1);
      const id = provider.socket.id;

      // The requests sent while it is away wait for it; the client learns
      // nothing meanwhile (its replies come once the provider is back).
      await blip(provider, '/', 1, async () => {
        ask(2);
        ask(3);
        await settle();
      });
      assert.equal(provider.socket.recovered, true);
      assert.equal(provider.socket.id, id);
      await Promise.all([replied(2), replied(3)]);
      ask(4);
      await replied(4);
      assert.deepEqual(payloads(provider.log, 'new_request').map(({ data, request_from: from }) => [data, from]),
        [[1, client.socket.id], [2, client.socket.id], [3, client.socket.id], [4, client.socket.id]]);
      assert.deepEqual(payloads(client.log, 'provider_reply').map(({ result }) => result), [2, 4, 6, 8]);
      // It still holds P1 for its broadcasts.
      provider.socket.emit('sent_to_my_clients', { provider_id: 'P1', cmd: 'speed', data: 9 });
      await client.log.until((e) => e.event === 'message_from_provider', { what: 'the broadcast' });
    });

    test('hubtel: a channel member that blips stays present and gets the messages sent meanwhile', { timeout: SCENARIO_TIMEOUT_MS, skip: SIOBRIDGE_ONLY }, async (t) => {
      const { open, blip } = await world(t);
      const a = await open('/hubtel');
      const b = await open('/hubtel', { roaming: true });
      const count = (member, n) => member.log.until((e) => e.event === 'online-users' && e.args[0].count === n, { what: `online-users ${n}` });
      a.socket.emit('join-channel', envelope(a.socket, 'ch1', '', 'a'));
      await count(a, 1);
      b.socket.emit('join-channel', envelope(b.socket, 'ch1', '', 'b'));
      await Promise.all([count(a, 2), count(b, 2)]);
      const id = b.socket.id;
      const posted = (member, message) => member.log.until((e) => e.event === 'ch1' && e.args[0].data.message === message, { what: `"${message}"` });

      await blip(b, '/hubtel', 1, async () => {
        a.socket.emit('ch1', envelope(a.socket, 'ch1', 'while away', 'a'));
        await posted(a, 'while away');
      });
      assert.equal(b.socket.recovered, true);
      assert.equal(b.socket.id, id);
      b.socket.emit('ch1', envelope(b.socket, 'ch1', 'back', 'b'));
      await Promise.all([posted(a, 'back'), posted(b, 'back')]);
      assert.deepEqual(payloads(b.log, 'ch1').map(({ data }) => data.message), ['while away', 'back']);
      // A saw no leave and no new count: B never left.
      assert.deepEqual(a.log.entries.map(({ event }) => event), ['join-channel', 'online-users', 'join-channel', 'online-users', 'ch1', 'ch1']);
    });
  });
}
