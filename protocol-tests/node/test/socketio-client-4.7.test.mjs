// The previous minor of the official client, socket.io-client 4.7 (with its
// own engine.io-client 6.5), against the test app over websocket, polling and
// polling upgraded to websocket: the core scenarios shared with the 4.8 suite,
// so that a server tuned to the current client keeps working with the clients
// already deployed.
import { io } from 'socket.io-client-4.7';
import { SETUPS, coreScenarios, defineSuite } from '../lib/sio-scenarios.mjs';

defineSuite({
  title: 'socket.io-client 4.7',
  client: 'socket.io-client 4.7 (Node)',
  suite: 'socketio-client-4.7-node',
  io,
  setups: [SETUPS.websocket, SETUPS.polling, SETUPS.upgrade],
  scenarios: coreScenarios,
});
