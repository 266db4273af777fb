// Connection state recovery with the official socket.io-client 4.8 browser
// bundle in headless Chromium (page/index.html), over websocket, polling and
// polling upgraded to websocket, against the test app with
// SIOBRIDGE_STATE_RECOVERY: the page's network blips (it connects through
// the TCP relay of ../../node/lib/blip-proxy.mjs, which the test cuts), a
// helper in Node (socket.io-client 4.8) makes the server emit to it while it
// is away, and the page comes back with `recovered`, its id, its room and
// every missed event once, in order, each with its offset; past the window
// it comes back as a new session. The scenarios' world (test app, relay,
// helper, the roll call telling when the server dropped the page's socket)
// is the Node suite's, lib/recovery-scenarios.mjs there.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { recorded } from '../../node/lib/matrix.mjs';
import {
  FEATURE, REPLAYED, SHORT_WINDOW_SECONDS, blip, emitWhileAway, missedData, rig,
} from '../../node/lib/recovery-scenarios.mjs';
import { SETUPS, request } from '../../node/lib/sio-scenarios.mjs';
import { launchChromium, startPageServer } from '../lib/browser.mjs';

const CLIENT = 'socket.io-client 4.8 (Chromium)';
const SUITE = 'state-recovery-4.8-chromium';
const SCENARIO_TIMEOUT_MS = 20_000;

let pageServer;
let chromium;
before(async () => {
  pageServer = await startPageServer();
  chromium = await launchChromium();
});
after(async () => {
  await Promise.all([chromium?.close(), pageServer?.close()]);
});

/**
 * The page as the roamer: `open()` connects it through the relay (with
 * reconnection), `expectReconnect()` must be called before the relay comes
 * back, `reconnected()` resolves once it is back (and welcomed), `log()` is
 * everything it received as `{ event, args }`, and `until(event)` waits for
 * one.
 */
async function pageRoamer(t, world, setup) {
  const tab = await chromium.newPage(`${pageServer.origin}/`);
  t.after(() => tab.close());
  const run = (fn, args = {}) => tab.evaluate(fn, { setup, ...args });
  return {
    open: () => run(async ({ url, setup: where }) => {
      const socket = harness.open(url, '/', where, {
        reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0,
      });
      const log = [];
      socket.onAny((event, ...args) => log.push({ event, args }));
      socket.on('roll-call', (data, ack) => ack(socket.id));
      window.roamer = { socket, log };
      await harness.first(socket, ['connect']);
      while (!log.some((e) => e.event === 'welcome')) await harness.first(socket, ['welcome']);
      if (where.upgrade && socket.io.engine.transport.name !== 'websocket') await harness.once(socket.io.engine, 'upgrade');
      const joined = await harness.request(socket, 'join', 'in');
      return { id: socket.id, recovered: socket.recovered, joined };
    }, { url: world.proxy.url }),
    expectReconnect: () => run(() => {
      const { socket, log } = window.roamer;
      const welcomes = log.filter((e) => e.event === 'welcome').length;
      window.roamer.back = harness.once(socket, 'connect', 5000).then(async () => {
        while (log.filter((e) => e.event === 'welcome').length === welcomes) await harness.once(socket, 'welcome');
      });
      window.roamer.back.catch(() => {});
    }),
    reconnected: () => run(async ({ setup: where }) => {
      const { socket } = window.roamer;
      await window.roamer.back;
      if (where.upgrade && socket.io.engine.transport.name !== 'websocket') await harness.once(socket.io.engine, 'upgrade');
      return { id: socket.id, recovered: socket.recovered, rooms: await harness.request(socket, 'rooms') };
    }),
    until: (event) => run(async ({ name }) => {
      const { socket, log } = window.roamer;
      while (!log.some((e) => e.event === name)) await harness.once(socket, name);
    }, { name: event }),
    log: () => run(() => window.roamer.log),
  };
}

// The Node suite's `missedData` takes a recorder; the page's log is plain data.
const asRecorder = (entries) => ({ of: (event) => entries.filter((e) => e.event === event) });

// Lets the relay back up and waits for the page to reconnect.
async function comeBack(world, page) {
  await page.expectReconnect();
  world.proxy.up();
  return page.reconnected();
}

const scenarios = {
  async 'a blip within the window: recovered, same id and room, every missed event once, in order, with its offset'(t, setup) {
    const world = await rig(t, { io: null, setup });
    const helper = await world.helper();
    const page = await pageRoamer(t, world, setup);
    const first = await page.open();
    assert.deepEqual([first.recovered, first.joined], [false, 'in']);

    await blip(world, helper);
    await emitWhileAway(helper, first.id);
    const back = await comeBack(world, page);
    assert.deepEqual(back, { id: first.id, recovered: true, rooms: [first.id, 'in'].sort() });

    await request(helper, 'to-room', { room: first.id, event: 'fence', data: 'fence' });
    await page.until('fence');
    const log = asRecorder(await page.log());
    assert.deepEqual(missedData(log), REPLAYED);
    assert.deepEqual(log.of('asked-while-away'), [], 'an event with an acknowledgement is not replayed');
  },

  async 'after the window: a new session, without its room or the events sent meanwhile'(t, setup) {
    const world = await rig(t, { io: null, setup, env: { SIOBRIDGE_STATE_RECOVERY: SHORT_WINDOW_SECONDS } });
    const helper = await world.helper();
    const page = await pageRoamer(t, world, setup);
    const first = await page.open();

    await blip(world, helper);
    await request(helper, 'to-room', { room: 'in', event: 'missed', data: 'too late' });
    // Away for longer than the window, which is the point.
    await sleep(Number(SHORT_WINDOW_SECONDS) * 1000 + 500);
    const back = await comeBack(world, page);
    assert.equal(back.recovered, false);
    assert.notEqual(back.id, first.id);
    assert.deepEqual(back.rooms, [back.id]);

    await request(helper, 'to-room', { room: back.id, event: 'fence', data: 'fence' });
    await page.until('fence');
    assert.deepEqual(asRecorder(await page.log()).of('missed'), []);
  },
};

for (const setup of [SETUPS.websocket, SETUPS.polling, SETUPS.upgrade]) {
  describe(`socket.io-client 4.8 in Chromium recovers over ${setup.name}`, () => {
    for (const [name, scenario] of Object.entries(scenarios)) {
      test(name, { timeout: SCENARIO_TIMEOUT_MS + 5000 }, (t) => recorded(
        SUITE,
        { client: CLIENT, transport: setup.transport, feature: FEATURE, test: name },
        () => scenario(t, setup),
        { timeoutMs: SCENARIO_TIMEOUT_MS },
      ));
    }
  });
}
