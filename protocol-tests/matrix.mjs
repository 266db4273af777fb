#!/usr/bin/env node
// Composes the conformance matrix, protocol-tests/MATRIX.md, from the result
// lines the official-client suites wrote, and checks it against the committed
// one.
//
// Usage: node protocol-tests/matrix.mjs [RESULTS_DIR [MATRIX_FILE]]
//   MATRIX_FILE defaults to protocol-tests/MATRIX.md.
//   RESULTS_DIR (default: $SIOBRIDGE_MATRIX_DIR) holds one `<suite>.jsonl`
//   per suite, each line {"client","transport","feature","status","reason"}
//   with status "pass", "fail" or "n/a" (protocol-tests/node/lib/matrix.mjs
//   writes them for the Node and browser suites).
//
// A cell (client x transport x feature) is `pass` when every result line for
// it passed, `fail` when any failed (the reason names the failing tests), and
// `n/a` with a reason when the layout below or the suite says it does not
// apply. A cell with no result line fails as "not run". When the composed
// matrix differs from the committed MATRIX.md, the new one is written in its
// place, the changed cells are printed, and the exit status is 1: the change
// is for someone to review and commit on purpose.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The columns: each feature and what its cell shows. */
export const FEATURES = [
  ['connect-auth', 'connects with handshake auth and is welcomed with its id and auth (the Node and browser suites: several namespaces)'],
  ['auth-error', 'a middleware refusal surfaces as `connect_error` with its message and `data` (socket.io 2.x clients: an `error` event with the `data`)'],
  ['emit-ack', 'client events and their acknowledgements, with JSON arguments'],
  ['server-ack', 'server events acknowledged by the client (the Node and browser suites: and the server-side ack timeout)'],
  ['binary', 'binary arguments both ways, in events and acknowledgements'],
  ['broadcast', 'broadcasts (and, where the suite has them, rooms) reach exactly the clients they should'],
  ['volatile', 'a volatile event reaches a connected client'],
  ['disconnect', 'server-side and client-side disconnects, each with its reason'],
  ['reconnect', 'the client reconnects, as a new socket, after the server drops the connection'],
  ['cors-refused', 'a page from an origin the server does not list is refused; a listed one connects'],
  ['state-recovery', 'with connection state recovery on, a real network blip within the window is recovered (same id, rooms, every missed event once and in order with its offset) and one past it is a new session (python-socketio, which cannot recover: it works unchanged and sees the offset as one more argument)'],
];

const NOT_A_BROWSER = 'CORS is a browser policy: this client sends no Origin header';
const PYTHON_SCOPE = 'not covered by the Python suite (connect, auth, acks, broadcast, binary, disconnect)';
// Connection state recovery is socket.io 4.6+ (Socket.IO protocol v5).
const NO_RECOVERY_V4 = 'Socket.IO protocol v4 (socket.io 2.x) predates connection state recovery (socket.io 4.6+)';
const RECOVERY_JSON_ONLY = 'the recovery suites run with the default parser; msgpack changes nothing they check';
const ALL_TRANSPORTS = ['polling', 'websocket', 'upgrade'];

/**
 * The rows: each client, its transports (`upgrade` is polling upgraded to
 * websocket), and the cells that do not apply to it, with the reason.
 */
export const CLIENTS = [
  { client: 'socket.io-client 4.8 (Node)', transports: ALL_TRANSPORTS, notApplicable: { 'cors-refused': NOT_A_BROWSER } },
  { client: 'socket.io-client 4.7 (Node)', transports: ALL_TRANSPORTS, notApplicable: { 'cors-refused': NOT_A_BROWSER } },
  { client: 'socket.io-client 4.8 + msgpack (Node)', transports: ALL_TRANSPORTS, notApplicable: { 'cors-refused': NOT_A_BROWSER } },
  { client: 'socket.io-client 4.8 (Chromium)', transports: ALL_TRANSPORTS, notApplicable: {} },
  { client: 'socket.io-client 4.8 + msgpack (Chromium)', transports: ALL_TRANSPORTS, notApplicable: { 'state-recovery': RECOVERY_JSON_ONLY } },
  // socket.io 2.x clients (Engine.IO v3, Socket.IO protocol v4), against the
  // servers with allow_eio3.
  { client: 'socket.io-client 2.5 (Node)', transports: ALL_TRANSPORTS, notApplicable: { 'cors-refused': NOT_A_BROWSER, 'state-recovery': NO_RECOVERY_V4 } },
  { client: 'socket.io-client 2.5 (Chromium)', transports: ALL_TRANSPORTS, notApplicable: { 'state-recovery': NO_RECOVERY_V4 } },
  ...['python-socketio Client 5.x', 'python-socketio AsyncClient 5.x',
    'python-socketio Client 5.x + msgpack', 'python-socketio AsyncClient 5.x + msgpack'].map((client) => ({
    client,
    transports: ['polling', 'websocket'],
    notApplicable: {
      volatile: PYTHON_SCOPE,
      reconnect: PYTHON_SCOPE,
      'cors-refused': NOT_A_BROWSER,
      ...(client.endsWith('msgpack') && { 'state-recovery': RECOVERY_JSON_ONLY }),
    },
  })),
  {
    client: 'python-socketio Client 4.x',
    transports: ['polling', 'websocket'],
    notApplicable: { volatile: PYTHON_SCOPE, reconnect: PYTHON_SCOPE, 'cors-refused': NOT_A_BROWSER, 'state-recovery': NO_RECOVERY_V4 },
  },
];

const STATUSES = new Set(['pass', 'fail', 'n/a']);
const NOT_RUN = 'not run';
const key = (client, transport, feature) => `${client} | ${transport} | ${feature}`;

/** Every cell of the layout, in display order, as `{ client, transport, feature }`. */
export function layoutCells(clients = CLIENTS, features = FEATURES) {
  return clients.flatMap(({ client, transports }) => transports.flatMap(
    (transport) => features.map(([feature]) => ({ client, transport, feature })),
  ));
}

/**
 * Reads the result lines of every `*.jsonl` file in `dir` (in name order).
 * Throws on a line that is not a JSON object.
 */
export function readResults(dir) {
  const files = readdirSync(dir).filter((name) => name.endsWith('.jsonl')).sort();
  return files.flatMap((name) => readFileSync(path.join(dir, name), 'utf8')
    .split('\n')
    .map((line, index) => [line.trim(), index + 1])
    .filter(([line]) => line !== '')
    .map(([line, number]) => {
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        throw new Error(`${name}:${number}: not JSON: ${error.message}`);
      }
      if (parsed === null || typeof parsed !== 'object') throw new Error(`${name}:${number}: not a JSON object`);
      return { ...parsed, source: `${name}:${number}` };
    }));
}

/**
 * Folds result lines into the layout's cells. Returns `{ cells, problems }`:
 * `cells` maps each cell's key to `{ client, transport, feature, status,
 * reason }`; `problems` lists the lines that do not fit the layout (an
 * unknown cell or status, or a result for a cell the layout says does not
 * apply), which mean the layout and a suite disagree.
 */
export function composeCells(results, clients = CLIENTS, features = FEATURES) {
  const problems = [];
  const byCell = new Map(layoutCells(clients, features).map((cell) => [key(cell.client, cell.transport, cell.feature), []]));
  const notApplicable = new Map(clients.flatMap(({ client, transports, notApplicable: reasons }) => transports.flatMap(
    (transport) => Object.entries(reasons).map(([feature, reason]) => [key(client, transport, feature), reason]),
  )));

  for (const line of results) {
    const cellKey = key(line.client, line.transport, line.feature);
    if (!STATUSES.has(line.status)) problems.push(`${line.source}: unknown status ${JSON.stringify(line.status)}`);
    else if (!byCell.has(cellKey)) problems.push(`${line.source}: no such cell in the layout: ${cellKey}`);
    else if (notApplicable.has(cellKey)) problems.push(`${line.source}: the layout says ${cellKey} is n/a, but a suite reported it`);
    else byCell.get(cellKey).push(line);
  }

  const cells = new Map();
  for (const cell of layoutCells(clients, features)) {
    const cellKey = key(cell.client, cell.transport, cell.feature);
    cells.set(cellKey, { ...cell, ...verdict(byCell.get(cellKey), notApplicable.get(cellKey)) });
  }
  return { cells, problems };
}

// One cell's status and reason from its result lines.
function verdict(lines, layoutReason) {
  if (layoutReason !== undefined) return { status: 'n/a', reason: layoutReason };
  if (lines.length === 0) return { status: 'fail', reason: NOT_RUN };
  const reasonsOf = (status) => [...new Set(lines.filter((l) => l.status === status).map((l) => l.reason || status))].sort();
  if (lines.some((l) => l.status === 'fail')) return { status: 'fail', reason: reasonsOf('fail').join('; ') };
  if (lines.some((l) => l.status === 'pass')) return { status: 'pass', reason: '' };
  return { status: 'n/a', reason: reasonsOf('n/a').join('; ') };
}

const HEADER = `# Conformance matrix

Official Socket.IO clients against siobridge, cell by cell: client x
transport x feature. Written by \`node protocol-tests/matrix.mjs\` at the end
of \`scripts/test\` from the results of the client suites; do not edit by
hand. A changed cell fails the test run until this file is committed again,
on purpose. How the suites map to the cells: protocol-tests/browser/README.md.

Transports: \`polling\` (HTTP long-polling only), \`websocket\` (WebSocket
only), \`upgrade\` (polling upgraded to WebSocket). A cell is \`pass\` when
every test of that feature passed on that client and transport, \`fail\` when
one failed or none ran, \`n/a\` when the feature does not apply there; bracketed
numbers point to the reasons under the table.
`;

/** MATRIX.md for `cells` (a map from `composeCells`). */
export function render(cells, features = FEATURES) {
  const notes = [];
  const noteFor = (text) => {
    if (!notes.includes(text)) notes.push(text);
    return notes.indexOf(text) + 1;
  };
  const show = ({ status, reason }) => (reason ? `${status} [${noteFor(`${status}: ${reason}`)}]` : status);

  const names = features.map(([feature]) => feature);
  const rows = new Map();
  for (const cell of cells.values()) {
    const rowKey = `${cell.client} | ${cell.transport}`;
    if (!rows.has(rowKey)) rows.set(rowKey, { client: cell.client, transport: cell.transport, shown: new Map() });
    rows.get(rowKey).shown.set(cell.feature, show(cell));
  }
  const table = [
    `| client | transport | ${names.join(' | ')} |`,
    `|---|---|${names.map(() => '---').join('|')}|`,
    ...[...rows.values()].map(({ client, transport, shown }) => `| ${client} | ${transport} | ${names.map((f) => shown.get(f)).join(' | ')} |`),
  ];
  const counts = ['pass', 'fail', 'n/a'].map((status) => `${[...cells.values()].filter((c) => c.status === status).length} ${status}`);
  return [
    HEADER,
    ...table,
    '',
    `${counts.join(', ')}.`,
    '',
    '## Reasons',
    '',
    ...(notes.length > 0 ? notes.map((note, i) => `- [${i + 1}] ${note}`) : ['(none)']),
    '',
    '## Features',
    '',
    ...features.map(([feature, meaning]) => `- \`${feature}\`: ${meaning}`),
    '',
  ].join('\n');
}

/**
 * The cells of a MATRIX.md as `render` writes it: a map from cell key to
 * `{ status, reason }` (empty when the text has no table).
 */
export function parse(text) {
  const lines = text.split('\n');
  const notes = new Map();
  for (const line of lines) {
    const note = /^- \[(\d+)\] (pass|fail|n\/a): (.*)$/.exec(line);
    if (note) notes.set(note[1], note[3]);
  }
  const cells = new Map();
  const headerAt = lines.findIndex((line) => line.startsWith('| client | transport |'));
  if (headerAt < 0) return cells;
  const split = (row) => row.split('|').slice(1, -1).map((part) => part.trim());
  const features = split(lines[headerAt]).slice(2);
  for (const row of lines.slice(headerAt + 2)) {
    if (!row.startsWith('|')) break;
    const [client, transport, ...shown] = split(row);
    features.forEach((feature, i) => {
      const [, status, note] = /^(\S+)(?: \[(\d+)\])?$/.exec(shown[i] ?? '') ?? [];
      cells.set(key(client, transport, feature), { status: status ?? '?', reason: note ? notes.get(note) ?? '' : '' });
    });
  }
  return cells;
}

/** Lines describing each cell that differs between two parsed matrices. */
export function diffCells(before, after) {
  const show = (cell) => (cell ? `${cell.status}${cell.reason ? ` (${cell.reason})` : ''}` : 'absent');
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  return keys
    .filter((k) => show(before.get(k)) !== show(after.get(k)))
    .map((k) => `${k}: ${show(before.get(k))} -> ${show(after.get(k))}`);
}

// Prints at most PRINTED_LINES of `lines`, then how many were left out.
const PRINTED_LINES = 40;
function printCapped(lines, print) {
  for (const line of lines.slice(0, PRINTED_LINES)) print(line);
  if (lines.length > PRINTED_LINES) print(`  ... and ${lines.length - PRINTED_LINES} more`);
}

function main() {
  const dir = process.argv[2] || process.env.SIOBRIDGE_MATRIX_DIR;
  if (!dir) {
    console.error('usage: node protocol-tests/matrix.mjs RESULTS_DIR [MATRIX_FILE] (or set SIOBRIDGE_MATRIX_DIR)');
    return 2;
  }
  const target = process.argv[3] || fileURLToPath(new URL('MATRIX.md', import.meta.url));
  const shown = path.relative(process.cwd(), target);
  const { cells, problems } = composeCells(readResults(dir));
  for (const problem of problems) console.error(`matrix: ${problem}`);

  const text = render(cells);
  const committed = existsSync(target) ? readFileSync(target, 'utf8') : '';
  const composed = [...cells.values()];
  const count = (status) => composed.filter((c) => c.status === status).length;
  console.log(`matrix: ${composed.length} cells: ${count('pass')} pass, ${count('fail')} fail, ${count('n/a')} n/a`);
  printCapped(composed.filter((c) => c.status === 'fail')
    .map((cell) => `matrix: fail: ${key(cell.client, cell.transport, cell.feature)}: ${cell.reason}`), console.log);

  if (text === committed) {
    console.log(`matrix: ${shown} is unchanged`);
    return problems.length > 0 ? 1 : 0;
  }
  writeFileSync(target, text);
  const changes = diffCells(parse(committed), parse(text));
  console.error(`matrix: ${shown} changed (${changes.length} cells); the new one is written in its place:`);
  printCapped(changes.map((change) => `  ${change}`), console.error);
  if (changes.length === 0) console.error('  (no cell changed: only the layout or the text around the table)');
  console.error(`matrix: review it (git diff ${shown}) and commit it if the change is meant`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main();
}
