// The socket.io-client 4.8 browser bundle in Debian's headless Chromium over
// https and wss (ServerConfig::tls), trusting a test CA made at test time
// (protocol-tests/node/lib/tls.mjs). Chromium trusts the CA the way an
// operator's machine would: it is added to the NSS database of the HOME
// Chromium runs with (`certutil`, from Debian's libnss3-tools, which
// scripts/install-test-tools installs), so Chromium still checks dates and
// names. Polling, WebSocket and the upgrade work; an expired certificate and
// one for another name are refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../../node/lib/server.mjs';
import { SETUPS } from '../../node/lib/sio-scenarios.mjs';
import { makeTestPki } from '../../node/lib/tls.mjs';
import { launchChromium, startPageServer } from '../lib/browser.mjs';

const TEST_TIMEOUT_MS = 20_000;

/** A HOME whose NSS database trusts `caFile` for TLS servers. */
function homeTrusting(caFile) {
  const home = mkdtempSync(path.join(tmpdir(), 'siobridge-chromium-home-'));
  const db = path.join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  try {
    execFileSync('certutil', ['-d', `sql:${db}`, '-N', '--empty-password'], { stdio: 'pipe' });
    execFileSync('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'siobridge test CA', '-i', caFile], { stdio: 'pipe' });
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    if (error.code === 'ENOENT') throw new Error('certutil is missing (scripts/install-test-tools installs libnss3-tools)');
    throw new Error(`certutil failed: ${error.stderr}`);
  }
  return home;
}

const pki = makeTestPki();
const home = homeTrusting(pki.caFile);
let chromium;
let pageServer;
const servers = {};

before(async () => {
  pageServer = await startPageServer();
  chromium = await launchChromium({ env: { HOME: home } });
  for (const [name, pair] of Object.entries({ valid: pki.valid, expired: pki.expired, mismatched: pki.mismatched })) {
    servers[name] = await startServer({
      app: 'testapp',
      env: { SIOBRIDGE_TLS_CERT: pair.cert, SIOBRIDGE_TLS_KEY: pair.key },
    });
  }
});

after(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()));
  await chromium?.close();
  await pageServer?.close();
  rmSync(home, { recursive: true, force: true });
  pki.cleanup();
});

/** `server`'s URL as https://localhost:<port> (the certificates name localhost). */
const httpsUrl = (server) => `https://localhost:${server.port}`;

/** Runs `fn` in a fresh tab of the test page with `args`. */
async function inPage(fn, args) {
  const page = await chromium.newPage(`${pageServer.origin}/`);
  try {
    return await page.evaluate(fn, args);
  } finally {
    await page.close();
  }
}

for (const setup of Object.values(SETUPS)) {
  describe(`Chromium over TLS, ${setup.name}`, () => {
    test('connects to the trusted certificate and echoes', { timeout: TEST_TIMEOUT_MS }, async () => {
      const seen = await inPage(async ({ url, setup }) => {
        const { socket, welcome } = await harness.connect(url, '/', setup);
        const echoed = await harness.request(socket, 'echo', { text: 'héllo über TLS' });
        const result = { transport: socket.io.engine.transport.name, welcome, echoed, id: socket.id };
        socket.disconnect();
        return result;
      }, { url: httpsUrl(servers.valid), setup });
      assert.equal(seen.transport, setup.transport === 'polling' ? 'polling' : 'websocket');
      assert.deepEqual(seen.welcome, { id: seen.id, nsp: '/', auth: {} });
      assert.deepEqual(seen.echoed, { text: 'héllo über TLS' });
    });

    for (const refused of ['expired', 'mismatched']) {
      test(`refuses the ${refused} certificate`, { timeout: TEST_TIMEOUT_MS }, async () => {
        const outcome = await inPage(
          ({ url, setup }) => harness.attempt(url, '/', setup),
          { url: httpsUrl(servers[refused]), setup },
        );
        assert.equal(outcome.event, 'connect_error');
        assert.equal(outcome.connected, false);
      });
    }
  });
}
