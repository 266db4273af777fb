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
// The blip is real: the client goes through a TCP relay (lib/blip-proxy.mjs)
// that closes its connections and refuses new ones for the blip; the bridge's
// /metrics (`siobridge_sockets`) tells when the bridge has dropped the socket.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBlipProxy } from '../lib/blip-proxy.mjs';
import { startBridge } from '../lib/bridge.mjs';
import { EVT, SCENARIO_TIMEOUT_MS, TRANSPORTS, settle } from '../lib/bridge-clients.mjs';
import { eventually } from '../lib/hostile.mjs';
import { request } from '../lib/raw.mjs';
import { recorder } from '../lib/recovery-scenarios.mjs';
import { first, once } from '../lib/wait.mjs';

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
    let bridge;
    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=digital-auto', '--profile', '/chat=chat', '--state-recovery', WINDOW_SECONDS] });
    });
    after(() => bridge?.stop());

    // A world per scenario: the relay, and clients straight to the bridge or
    // (the roamer) through the relay with reconnection on.
    async function world(t) {
      const proxy = await startBlipProxy(bridge.port);
      const sockets = [];
      t.after(async () => {
        for (const socket of sockets) socket.disconnect();
        await proxy.close();
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
        // notices a cut at once only if a long-poll GET is pending.
        if (transport === 'polling') await eventually(() => proxy.waiting > 0, { timeoutMs: EVT, what: 'a pending long-poll request' });
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
  });
}
