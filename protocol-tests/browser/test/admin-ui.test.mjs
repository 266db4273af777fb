// The official Socket.IO Admin UI page (`ui/dist` of @socket.io/admin-ui
// 0.5.1, installed by scripts/admin-ui) in Debian's headless Chromium,
// served by `siobridge --admin USER:PASSWORD` at /admin/, as an operator
// uses it: log in through its connection form, see the sockets of a
// socket.io-client (Node) with their rooms, see a join as it happens,
// disconnect the socket with the UI's button. Wrong credentials are refused.
//
// Needs the siobridge binary (SIOBRIDGE_BIN, as scripts/test sets it): the
// Node reference bridge does not serve the UI's page. A screenshot of the
// socket list is saved in target/admin-ui/ (SIOBRIDGE_SCREENSHOT_DIR
// overrides it).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { startBridge } from '../../node/lib/bridge.mjs';
import { once } from '../../node/lib/wait.mjs';
import { launchChromium } from '../lib/browser.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI_DIR = path.join(ROOT, 'admin-ui/node_modules/@socket.io/admin-ui/ui/dist');
const SCREENSHOTS = process.env.SIOBRIDGE_SCREENSHOT_DIR || path.join(ROOT, 'target/admin-ui');
const USER = 'operator';
const PASSWORD = 'correct horse';
// Upper bound for what the page must show (it renders on socket events).
const SHOW_MS = 10_000;

const skip = process.env.SIOBRIDGE_BIN ? false : 'needs SIOBRIDGE_BIN (the reference bridge does not serve the UI page)';

describe('official admin UI in Chromium', { skip }, () => {
  let bridge;
  let chromium;
  let page;
  let alice;
  before(async () => {
    assert.ok(existsSync(path.join(UI_DIR, 'index.html')), `${UI_DIR}/index.html missing: run scripts/admin-ui`);
    bridge = await startBridge({
      args: ['--profile', '/=chat', '--admin', `${USER}:${PASSWORD}`, '--admin-ui-dir', UI_DIR],
    });
    alice = io(bridge.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    await once(alice, 'connect', { timeoutMs: 5000 });
    alice.emit('join', { username: 'alice', room: 'lobby' });
    await once(alice, 'message', { timeoutMs: 5000 });
    chromium = await launchChromium();
    page = await chromium.newPage(`${bridge.url}/admin/`);
  });
  after(async () => {
    alice?.disconnect();
    await chromium?.close();
    await bridge?.stop();
  });

  /** Fills the UI's connection form and submits it. */
  async function logIn(password) {
    const form = page.locator('.v-dialog--active');
    await form.getByLabel('Server URL').fill(bridge.url, { timeout: SHOW_MS });
    await form.getByLabel('Username').fill(USER);
    await form.getByLabel('Password').fill(password);
    await form.getByRole('button', { name: 'Connect' }).click();
  }

  // The row of the socket list (not the details' rows, which a page in
  // transition may still show): its id with its address.
  const socketRow = () => page.locator('tr').filter({ hasText: alice.id }).filter({ hasText: '127.0.0.1' });
  // The row of the room list: the name with its kind.
  const roomRow = (name) => page.locator('tr').filter({ hasText: name }).filter({ hasText: 'Public' });

  test('wrong credentials are refused', async () => {
    await logIn('wrong password');
    await page.getByText('Invalid credentials').waitFor({ timeout: SHOW_MS });
    assert.ok(await page.locator('.v-dialog--active').isVisible(), 'the login form stays');
  });

  test('logs in and lists the client socket with its rooms', async () => {
    await logIn(PASSWORD);
    await page.locator('.v-dialog--active').waitFor({ state: 'hidden', timeout: SHOW_MS });
    await page.goto(`${bridge.url}/admin/#/sockets`);
    const row = socketRow();
    await row.waitFor({ timeout: SHOW_MS });
    assert.match(await row.innerText(), /websocket/i);
    // Its details: the rooms it is in.
    await row.click();
    await page.getByText('chat:lobby').first().waitFor({ timeout: SHOW_MS });
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, 'sockets.png');
    await page.screenshot({ path: file, fullPage: true });
    process.stderr.write(`screenshot: ${file}\n`);
  });

  test('shows the server stats: the server with its pid, the namespaces', async () => {
    await page.goto(`${bridge.url}/admin/#/servers`);
    // server_stats comes every 2 s.
    const server = page.locator('tr').filter({ hasText: String(bridge.pid) });
    await server.waitFor({ timeout: SHOW_MS });
    assert.ok((await server.innerText()).includes(os.hostname()), await server.innerText());
    await page.screenshot({ path: path.join(SCREENSHOTS, 'servers.png'), fullPage: true });
    await page.goto(`${bridge.url}/admin/#/`);
    await page.getByText('/admin').first().waitFor({ timeout: SHOW_MS });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
  });

  test('shows a join as it happens', async () => {
    await page.goto(`${bridge.url}/admin/#/sockets`);
    await socketRow().click();
    await page.getByText('chat:lobby').first().waitFor({ timeout: SHOW_MS });
    // On alice's details: the room appears without reloading.
    assert.equal(await page.getByText('chat:kitchen').count(), 0);
    alice.emit('join', { username: 'alice', room: 'kitchen' });
    await page.getByText('chat:kitchen').first().waitFor({ timeout: SHOW_MS });
    await page.goto(`${bridge.url}/admin/#/rooms`);
    await roomRow('chat:kitchen').waitFor({ timeout: SHOW_MS });
    await roomRow('chat:lobby').waitFor({ timeout: SHOW_MS });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'rooms.png'), fullPage: true });
  });

  test('shows the events the socket sends and gets in its event log', async () => {
    await page.goto(`${bridge.url}/admin/#/events`);
    const echoed = once(alice, 'message', { timeoutMs: SHOW_MS });
    alice.emit('message', 'a note');
    await echoed;
    // Its rows: time, socket, kind, event name (the arguments fold out).
    const logged = (kind) => page.locator('tr').filter({ hasText: alice.id }).filter({ hasText: kind }).filter({ hasText: 'message' });
    await logged('Event received').first().waitFor({ timeout: SHOW_MS });
    await logged('Event sent').first().waitFor({ timeout: SHOW_MS });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'events.png'), fullPage: true });
  });

  test('disconnects the socket from the UI', async () => {
    await page.goto(`${bridge.url}/admin/#/sockets`);
    const row = socketRow();
    await row.waitFor({ timeout: SHOW_MS });
    const disconnected = once(alice, 'disconnect', { timeoutMs: SHOW_MS });
    await row.locator('button').first().click();
    const [reason] = await disconnected;
    assert.equal(reason, 'io server disconnect');
    await row.waitFor({ state: 'detached', timeout: SHOW_MS });
  });
});
