// The browser side of the suite: Debian's Chromium driven by playwright-core,
// and the HTTP server that gives it its page.
//
// The page is served from its own port, so its origin differs from the
// server under test's: every request the socket.io-client bundle makes is
// cross-origin, as in a real deployment, and CORS is exercised.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// Debian's package (scripts/install-chromium); CHROMIUM overrides it.
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// A closed network: no background traffic, no updates, no sign-in, no QUIC.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const require = createRequire(import.meta.url);
const bundleDir = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist');
// socket.io-client 2.5 (socket.io 2.x clients, Engine.IO v3), for v2.html.
const bundleDirV2 = path.join(path.dirname(require.resolve('socket.io-client-v2/package.json')), 'dist');
const pageDir = new URL('../page/', import.meta.url);

// What the page server serves; anything else is a 404.
const FILES = {
  '/': { file: new URL('index.html', pageDir), type: 'text/html; charset=utf-8' },
  '/harness.js': { file: new URL('harness.js', pageDir), type: 'text/javascript; charset=utf-8' },
  '/socket.io.min.js': { file: path.join(bundleDir, 'socket.io.min.js'), type: 'text/javascript; charset=utf-8' },
  // The 4.8 bundle built with socket.io-msgpack-parser, for msgpack.html.
  '/msgpack.html': { file: new URL('msgpack.html', pageDir), type: 'text/html; charset=utf-8' },
  '/socket.io.msgpack.min.js': { file: path.join(bundleDir, 'socket.io.msgpack.min.js'), type: 'text/javascript; charset=utf-8' },
  '/v2.html': { file: new URL('v2.html', pageDir), type: 'text/html; charset=utf-8' },
  '/harness-v2.js': { file: new URL('harness-v2.js', pageDir), type: 'text/javascript; charset=utf-8' },
  '/socket.io-v2.js': { file: path.join(bundleDirV2, 'socket.io.js'), type: 'text/javascript; charset=utf-8' },
};

/**
 * Serves the test page on an ephemeral port of 127.0.0.1. Resolves with its
 * `origin` (`http://127.0.0.1:<port>`) and `close()`.
 */
export async function startPageServer() {
  const contents = Object.fromEntries(await Promise.all(Object.entries(FILES).map(
    async ([route, { file, type }]) => [route, { body: await readFile(file), type }],
  )));
  const server = http.createServer((req, res) => {
    const found = contents[new URL(req.url, 'http://page').pathname];
    if (!found) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': found.type, 'cache-control': 'no-store' }).end(found.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

/**
 * Launches headless Chromium with a fresh profile directory. Resolves with
 * `newPage(url)` (a new tab showing `url`, its console errors forwarded when
 * SIOBRIDGE_TEST_VERBOSE is set) and `close()`, which also removes the
 * profile. `env` extends Chromium's environment (e.g. a HOME whose NSS
 * database trusts a test CA).
 */
export async function launchChromium({ env } = {}) {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'siobridge-chromium-'));
  let context;
  try {
    // playwright-core refuses `--user-data-dir` in `args`: a persistent
    // context is how it takes one.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      ...(env && { env: { ...process.env, ...env } }),
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(`could not launch ${CHROMIUM} (scripts/install-chromium installs it): ${error.message}`);
  }
  const verbose = Boolean(process.env.SIOBRIDGE_TEST_VERBOSE);
  return {
    async newPage(url) {
      const page = await context.newPage();
      if (verbose) page.on('console', (message) => process.stderr.write(`[page ${message.type()}] ${message.text()}\n`));
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
