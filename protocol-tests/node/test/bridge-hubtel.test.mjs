// Profile B, Hubtel Realtime channels and rooms (bridge-profiles.md §2):
// every scenario of §2.4, over websocket and polling, with socket.io-client
// 4.8 on `/` of `siobridge --profile /=hubtel`.
//
// As §2.4 says, scenarios 1–6 run in order on one fresh bridge and share
// their sockets; scenario 7 needs its own; scenarios 8–15 run in order on a
// third (8–13 share their sockets, 14 and 15 add new ones). `total` in
// `online-users` counts the sockets in at least one channel on that bridge,
// so every expected count below follows from the steps before it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBridge } from '../lib/bridge.mjs';
import { SCENARIO_TIMEOUT_MS, TRANSPORTS, bridgeClients } from '../lib/bridge-clients.mjs';

/** `env(S, ch, room, msg, user)` of §2.4. */
function env(socket, channel, roomId, message, userName) {
  return {
    data: { message, roomId, roomChannel: channel },
    time: '2021-09-01T12:00:00.000Z',
    clientId: socket.id,
    source: { platform: 'web', appName: 'Sample App Name', appVersion: '1.0.0', clientId: socket.id, userName, channel },
  };
}
const online = (roomChannel, count, total) => ['online-users', { roomChannel, count, total }];
const roomOnline = (roomChannel, roomId, count) => ['room-online-users', { roomChannel, roomId, count }];

/**
 * A group of scenarios sharing one bridge and one set of clients, run in
 * order; `body(scenario)` declares them.
 */
function onOneBridge(title, transport, body) {
  describe(title, () => {
    let bridge;
    let clients;
    before(async () => {
      bridge = await startBridge({ args: ['--profile', '/=hubtel'] });
      clients = bridgeClients(bridge.url, transport);
    });
    after(async () => {
      clients?.close();
      await bridge?.stop();
    });
    body((name, scenario) => test(name, { timeout: SCENARIO_TIMEOUT_MS }, () => scenario(clients)));
  });
}

for (const transport of TRANSPORTS) {
  describe(`hubtel over ${transport}`, () => {
    onOneBridge('scenarios 1-6 (one bridge)', transport, (scenario) => {
      let A, B, C, D;

      scenario('1. join notifications', async (clients) => {
        ({ A, B, C, D } = await clients.connect(['A', 'B', 'C', 'D']));
        const joinA = env(A, 'ch1', null, '', 'a');
        A.emit('join-channel', joinA);
        await clients.expect({ A: [['join-channel', joinA], online('ch1', 1, 1)] });
        const joinB = env(B, 'ch1', null, '', 'b');
        B.emit('join-channel', joinB);
        const notices = [['join-channel', joinB], online('ch1', 2, 2)];
        await clients.expect({ A: notices, B: notices });
      });

      scenario('2. channel broadcast includes sender', async (clients) => {
        const joinC = env(C, 'ch2', null, '', 'c');
        C.emit('join-channel', joinC);
        await clients.expect({ C: [['join-channel', joinC], online('ch2', 1, 3)] });
        const hello = env(A, 'ch1', null, 'hello', 'a');
        A.emit('ch1', hello);
        await clients.expect({ A: [['ch1', hello]], B: [['ch1', hello]] });
      });

      scenario('3. non-member cannot post', async (clients) => {
        D.emit('ch1', env(D, 'ch1', null, 'intruder', 'd'));
        await clients.expect({});
      });

      scenario('4. leave', async (clients) => {
        // The leave envelope differs from B's join envelope, so the notice
        // shows it is the one sent with leave-channel (B-e6).
        const leaveB = env(B, 'ch1', null, 'bye', 'b');
        B.emit('leave-channel', leaveB);
        await clients.expect({ A: [['leave-channel', leaveB], online('ch1', 1, 2)] });
        const alone = env(A, 'ch1', null, 'anyone?', 'a');
        A.emit('ch1', alone);
        await clients.expect({ A: [['ch1', alone]] });
      });

      scenario('5. disconnect is a leave', async (clients) => {
        const rejoinB = env(B, 'ch1', null, 'back', 'b');
        B.emit('join-channel', rejoinB);
        const notices = [['join-channel', rejoinB], online('ch1', 2, 3)];
        await clients.expect({ A: notices, B: notices });
        B.disconnect();
        // B-e6: on disconnect, the envelope of B's last join.
        await clients.expect({ A: [['leave-channel', rejoinB], online('ch1', 1, 2)] });
      });

      scenario('6. no-ops', async (clients) => {
        // B left in scenario 5; B2 takes its place as the other member of ch1.
        const { B2 } = await clients.connect('B2');
        const joinB2 = env(B2, 'ch1', null, '', 'b2');
        B2.emit('join-channel', joinB2);
        const notices = [['join-channel', joinB2], online('ch1', 2, 3)];
        await clients.expect({ A: notices, B2: notices });
        A.emit('join-channel', env(A, 'ch1', null, 'again', 'a'));
        await clients.expect({});
        A.emit('leave-channel', env(A, 'ch9', null, '', 'a'));
        await clients.expect({});
      });
    });

    onOneBridge('scenario 7 (fresh bridge)', transport, (scenario) => {
      scenario('7. total across channels', async (clients) => {
        const { A, B } = await clients.connect(['A', 'B']);
        const joinA = env(A, 'ch1', null, '', 'a');
        A.emit('join-channel', joinA);
        await clients.expect({ A: [['join-channel', joinA], online('ch1', 1, 1)] });
        const joinB = env(B, 'ch2', null, '', 'b');
        B.emit('join-channel', joinB);
        await clients.expect({ B: [['join-channel', joinB], online('ch2', 1, 2)] });
        const joinA2 = env(A, 'ch2', null, '', 'a');
        A.emit('join-channel', joinA2);
        const notices = [['join-channel', joinA2], online('ch2', 2, 2)];
        await clients.expect({ A: notices, B: notices });
      });
    });

    onOneBridge('scenarios 8-15 (one bridge)', transport, (scenario) => {
      let A, B, C, E;
      let channelJoinB; // B's join-channel envelope of scenario 12

      scenario('8. room join', async (clients) => {
        ({ A, B, C, E } = await clients.connect(['A', 'B', 'C', 'E']));
        const joinA = env(A, 'ch1', 'r1', '', 'a');
        A.emit('join-room', joinA);
        await clients.expect({ A: [['join-room', joinA], roomOnline('ch1', 'r1', 1)] });
        const joinB = env(B, 'ch1', 'r1', '', 'b');
        B.emit('join-room', joinB);
        const notices = [['join-room', joinB], roomOnline('ch1', 'r1', 2)];
        await clients.expect({ A: notices, B: notices });
      });

      scenario('9. room message', async (clients) => {
        // Same roomId, another channel: another room.
        const joinC = env(C, 'ch2', 'r1', '', 'c');
        C.emit('join-room', joinC);
        await clients.expect({ C: [['join-room', joinC], roomOnline('ch2', 'r1', 1)] });
        const joinE = env(E, 'ch1', null, '', 'e');
        E.emit('join-channel', joinE);
        await clients.expect({ E: [['join-channel', joinE], online('ch1', 1, 1)] });
        const hi = env(A, 'ch1', 'r1', 'hi', 'a');
        A.emit('notify-room', hi);
        await clients.expect({ A: [['notify-room', hi]], B: [['notify-room', hi]] });
      });

      scenario('10. room leave', async (clients) => {
        const leaveB = env(B, 'ch1', 'r1', 'bye', 'b');
        B.emit('leave-room', leaveB);
        // No room-online-users after a leave.
        await clients.expect({ A: [['leave-room', leaveB]] });
        const next = env(A, 'ch1', 'r1', 'next', 'a');
        A.emit('notify-room', next);
        await clients.expect({ A: [['notify-room', next]] });
      });

      scenario('11. non-member notify ignored', async (clients) => {
        E.emit('notify-room', env(E, 'ch1', 'r1', 'spoof', 'e'));
        await clients.expect({});
      });

      scenario('12. room membership is not channel membership', async (clients) => {
        channelJoinB = env(B, 'ch1', null, '', 'b');
        B.emit('join-channel', channelJoinB);
        const notices = [['join-channel', channelJoinB], online('ch1', 2, 2)];
        await clients.expect({ B: notices, E: notices });
        const post = env(B, 'ch1', null, 'channel only', 'b');
        B.emit('ch1', post);
        await clients.expect({ B: [['ch1', post]], E: [['ch1', post]] });
      });

      scenario('13. disconnect leaves rooms', async (clients) => {
        const rejoinB = env(B, 'ch1', 'r1', 'back', 'b');
        B.emit('join-room', rejoinB);
        const notices = [['join-room', rejoinB], roomOnline('ch1', 'r1', 2)];
        await clients.expect({ A: notices, B: notices });
        B.disconnect();
        // B was also in channel ch1 (scenario 12), where only E is left.
        await clients.expect({
          A: [['leave-room', rejoinB]],
          E: [['leave-channel', channelJoinB], online('ch1', 1, 1)],
        });
      });

      scenario('14. fallback to source.channel', async (clients) => {
        const { F } = await clients.connect('F');
        const join = env(F, 'ch3', null, '', 'f');
        join.data.roomChannel = '';
        F.emit('join-channel', join);
        // In channels now: E (ch1) and F (ch3).
        await clients.expect({ F: [['join-channel', join], online('ch3', 1, 2)] });
      });

      scenario('15. invalid input ignored', async (clients) => {
        const { G } = await clients.connect('G');
        G.emit('join-channel', env(G, '', null, 'no channel id', 'g'));
        G.emit('join-channel', env(G, 'join-room', null, '', 'g'));
        G.emit('join-channel', env(G, 'online-users', null, '', 'g'));
        G.emit('join-room', env(G, 'ch1', null, 'no room id', 'g'));
        G.emit('join-channel', 'ch1');
        await clients.expect({});
        assert.equal(G.connected, true);
        // G's valid join is seen, so the silence above was G's input ignored.
        const join = env(G, 'ch4', null, '', 'g');
        G.emit('join-channel', join);
        await clients.expect({ G: [['join-channel', join], online('ch4', 1, 3)] });
      });
    });

    onOneBridge('rules beyond the numbered scenarios (fresh bridge)', transport, (scenario) => {
      scenario('B-e2: any JSON value is forwarded on a channel; a reserved-looking name is no channel', async (clients) => {
        const { A, B } = await clients.connect(['A', 'B']);
        const joinA = env(A, 'ch1', null, '', 'a');
        A.emit('join-channel', joinA);
        await clients.expect({ A: [['join-channel', joinA], online('ch1', 1, 1)] });
        const joinB = env(B, 'ch1', null, '', 'b');
        B.emit('join-channel', joinB);
        const notices = [['join-channel', joinB], online('ch1', 2, 2)];
        await clients.expect({ A: notices, B: notices });
        for (const payload of [42, 'text', [1, 2], null]) {
          B.emit('ch1', payload);
          await clients.expect({ A: [['ch1', payload]], B: [['ch1', payload]] });
        }
      });

      scenario('R-B2: leaving a channel does not leave its rooms', async (clients) => {
        const { R, S } = await clients.connect(['R', 'S']);
        const channel = env(R, 'ch7', null, '', 'r');
        R.emit('join-channel', channel);
        // A and B of the previous rule are still in ch1.
        await clients.expect({ R: [['join-channel', channel], online('ch7', 1, 3)] });
        const roomR = env(R, 'ch7', 'r7', '', 'r');
        R.emit('join-room', roomR);
        await clients.expect({ R: [['join-room', roomR], roomOnline('ch7', 'r7', 1)] });
        const roomS = env(S, 'ch7', 'r7', '', 's');
        S.emit('join-room', roomS);
        const notices = [['join-room', roomS], roomOnline('ch7', 'r7', 2)];
        await clients.expect({ R: notices, S: notices });
        R.emit('leave-channel', env(R, 'ch7', null, 'bye', 'r'));
        // Nobody is left in ch7 to be told.
        await clients.expect({});
        const note = env(S, 'ch7', 'r7', 'still together', 's');
        S.emit('notify-room', note);
        await clients.expect({ R: [['notify-room', note]], S: [['notify-room', note]] });
      });
    });
  });
}
