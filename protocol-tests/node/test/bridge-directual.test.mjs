// Profile C, Directual push (bridge-profiles.md §3): every scenario of §3.4,
// over websocket and polling, with socket.io-client 4.8 on `/` of
// `siobridge --profile /=directual` and the HTTP API called with fetch.
//
// The scenarios run in order on one bridge per transport and share the
// sessions and sockets of the §3.4 setup: U1a and U1b (app1, u1), U2 (app1,
// u2) and X (app2, u1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBridge } from '../lib/bridge.mjs';
import { SCENARIO_TIMEOUT_MS, TRANSPORTS, bridgeClients, postApi, settle } from '../lib/bridge-clients.mjs';

const SESSIONS = [
  { session_id: 's1', app_id: 'app1', user_id: 'u1' },
  { session_id: 's1b', app_id: 'app1', user_id: 'u1' },
  { session_id: 's2', app_id: 'app1', user_id: 'u2' },
  { session_id: 's3', app_id: 'app2', user_id: 'u1' },
];

for (const transport of TRANSPORTS) {
  describe(`directual over ${transport}`, () => {
    let bridge;
    let clients;
    let U1a;
    let U1b;
    const push = (body) => postApi(bridge.url, '/api/v1/push', body);
    // A push answered 200 with `delivered`.
    const pushDelivering = async (body, delivered) => {
      const answer = await push(body);
      assert.deepEqual({ status: answer.status, body: answer.body }, { status: 200, body: { status: 'OK', delivered } });
    };

    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=directual'] });
      clients = bridgeClients(bridge.url, transport);
      for (const session of SESSIONS) {
        const answer = await postApi(bridge.url, '/api/v1/sessions', session);
        assert.deepEqual({ status: answer.status, body: answer.body }, { status: 200, body: { status: 'OK', session_id: session.session_id } });
      }
    });
    after(async () => {
      clients?.close();
      await bridge?.stop();
    });
    const scenario = (name, body) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, () => body());
    const auth = (appId, sessionId) => ({ auth: { app_id: appId, session_id: sessionId } });

    scenario('1. auth success', async () => {
      ({ U1a } = await clients.connect('U1a', auth('app1', 's1')));
      assert.equal(U1a.connected, true);
      // The rest of the setup.
      ({ U1b } = await clients.connect('U1b', auth('app1', 's1b')));
      await clients.connect('U2', auth('app1', 's2'));
      await clients.connect('X', auth('app2', 's3'));
    });

    scenario('2. auth failures', async () => {
      for (const options of [{}, auth('app1', 'bogus'), auth('app1', 's3'), { auth: { session_id: 's1' } }]) {
        const error = await clients.connectError('/', options);
        assert.equal(error.message, 'unauthorized', `auth ${JSON.stringify(options.auth)}`);
      }
    });

    scenario('3. targeted alert', async () => {
      const message = { message: 'Hello', parameters: { position: 'top-right', duration: 4000 } };
      await pushDelivering({ app_id: 'app1', user_id: 'u1', event: 'alert', message }, 2);
      await clients.expect({ U1a: [['alert', message]], U1b: [['alert', message]] });
    });

    scenario('4. broadcast', async () => {
      await pushDelivering({ app_id: 'app1', user_id: '*', event: 'refresh_orders', message: 'x' }, 3);
      const event = ['refresh_orders', 'x'];
      await clients.expect({ U1a: [event], U1b: [event], U2: [event] });
    });

    scenario('5. redirect passthrough', async () => {
      const message = { target: '<=', page: 'home,profile', delay: 200 };
      await pushDelivering({ app_id: 'app1', user_id: 'u2', event: 'redirect', message }, 1);
      await clients.expect({ U2: [['redirect', message]] });
    });

    scenario('6. message event and onAny', async () => {
      const received = [];
      const listener = (...args) => received.push(args);
      U1a.socket.on('message', listener);
      try {
        await pushDelivering({ app_id: 'app1', user_id: 'u1', event: 'message', message: '{"a":1}' }, 2);
        // onAny sees ("message", '{"a":1}'): a string, never parsed.
        await clients.expect({ U1a: [['message', '{"a":1}']], U1b: [['message', '{"a":1}']] });
        assert.deepEqual(received, [['{"a":1}']]);
      } finally {
        U1a.socket.off('message', listener);
      }
    });

    scenario('7. no message', async () => {
      await pushDelivering({ app_id: 'app1', user_id: 'u2', event: 'ping' }, 1);
      // onAny is called with "ping" and nothing after it.
      await clients.expect({ U2: [['ping']] });
    });

    scenario('8. offline user', async () => {
      await pushDelivering({ app_id: 'app1', user_id: 'u404', event: 'alert', message: { message: 'nobody' } }, 0);
      await clients.expect({});
    });

    scenario('9. bad requests', async () => {
      const base = { app_id: 'app1', user_id: 'u1', message: 'm' };
      const cases = {
        'missing event': base,
        'event "connect"': { ...base, event: 'connect' },
        'event ""': { ...base, event: '' },
        'missing user_id': { app_id: 'app1', event: 'alert', message: 'm' },
        'a non-JSON body': '{"app_id": "app1", "user_id": "u1", "event": ',
        'event 5': { ...base, event: 5 },
      };
      for (const [name, body] of Object.entries(cases)) {
        const answer = await push(body);
        assert.equal(answer.status, 400, `${name}: status`);
        assert.equal(answer.body?.status, 'ERR', `${name}: body ${JSON.stringify(answer.body)}`);
        assert.equal(typeof answer.body.message, 'string', `${name}: message`);
      }
      await clients.expect({});
    });

    scenario('10. client emits ignored', async () => {
      U1a.emit('alert', { message: 'spoof' });
      await clients.expect({});
      assert.equal(U1a.connected, true);
    });

    scenario('11. multiple tabs, one disconnects', async () => {
      U1b.disconnect();
      await settle();
      const message = { message: 'one tab left' };
      await pushDelivering({ app_id: 'app1', user_id: 'u1', event: 'alert', message }, 1);
      await clients.expect({ U1a: [['alert', message]] });
    });

    // Rules of §3.3 that no numbered scenario isolates.

    scenario('R-C2: a broadcast to another app reaches only that app', async () => {
      await pushDelivering({ app_id: 'app2', user_id: '*', event: 'refresh_orders', message: 'y' }, 1);
      await clients.expect({ X: [['refresh_orders', 'y']] });
    });

    scenario('R-C6/R-C7: any JSON message, null included, passes unchanged', async () => {
      for (const message of [null, 0, false, [1, 'two'], { nested: { list: [] } }]) {
        await pushDelivering({ app_id: 'app1', user_id: 'u2', event: 'custom_refresher', message }, 1);
        await clients.expect({ U2: [['custom_refresher', message]] });
      }
    });
  });
}
