// The official socket.io-client 4.8 browser bundle, in Debian's headless
// Chromium, against the test app (protocol-tests/node/README.md, "The
// test-app contract") over polling, websocket, and polling upgraded to
// websocket. The page comes from another origin than the test app, so every
// request is cross-origin, as in a real deployment. The scenarios are in
// lib/socketio-browser-suite.mjs.
import { defineBrowserSuite } from '../lib/socketio-browser-suite.mjs';

defineBrowserSuite({
  title: 'socket.io-client 4.8 in Chromium',
  client: 'socket.io-client 4.8 (Chromium)',
  suite: 'socketio-client-4.8-chromium',
  page: '/',
});
