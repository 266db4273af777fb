// A TCP relay between a client and the server under test that the test can
// break, for network blips: the client connects to the relay's port, every
// connection is relayed byte for byte to the server, and the test can
// - `cut()`: close every relayed connection on both sides, as a network that
//   drops: the server sees its end close ("transport close", or "transport
//   error" for a pending long-polling request), the client sees its
//   transport fail;
// - `down()` / `up()`: while down, a new connection is closed as soon as it
//   is accepted (the client's reconnection attempts fail, as with no
//   network); `cut({ down: true })` cuts and stays down;
// - `mute()`: from now on, drop what the server sends on the relayed
//   connections (what the client sends still goes through): a network that
//   has started to fail, and a server that does not know yet;
// - `strand()`: close every relayed connection on the client's side only,
//   keeping the server's side open and silent, and go down: half-open
//   connections the server notices only when its heartbeat times out (over
//   long-polling, where there may be no connection open at that moment, the
//   server just hears nothing more); `dropStranded()` closes them later.
// Nothing here reads or alters the bytes it relays.
import net from 'node:net';

/**
 * Starts a relay on an ephemeral port of 127.0.0.1 to `upstreamPort` on
 * 127.0.0.1. Resolves with `{ url, port, cut, down, up, strand, close }`.
 */
export async function startBlipProxy(upstreamPort) {
  const pairs = new Set();
  const stranded = new Set();
  let isDown = false;

  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    upstream.on('error', () => {});
    // `waiting`: the client spoke last (a request awaits its answer).
    const pair = { client, upstream, waiting: false };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('data', () => { pair.waiting = true; });
    upstream.on('data', () => { pair.waiting = false; });
    const drop = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  const cutAll = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /** How many connections are relayed now. */
    get connections() {
      return pairs.size;
    },
    /**
     * How many relayed connections the client spoke on last: over
     * long-polling, a pending request (a long-poll GET once things are quiet).
     */
    get waiting() {
      return [...pairs].filter((pair) => pair.waiting).length;
    },
    /** Closes every relayed connection on both sides; with `down`, stays down. */
    cut({ down = false } = {}) {
      if (down) isDown = true;
      cutAll();
    },
    down() {
      isDown = true;
    },
    up() {
      isDown = false;
    },
    /** Closes the client's side of every relayed connection, leaving the server's open and silent; stays down. */
    strand() {
      isDown = true;
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.upstream.pause();
        stranded.add(pair.upstream);
        pair.client.destroy();
      }
    },
    /** Drops, from now on, what the server sends on the relayed connections. */
    mute() {
      for (const pair of pairs) {
        pair.upstream.unpipe(pair.client);
        pair.upstream.on('data', () => {});
      }
    },
    /** Closes the server's side of the stranded connections. */
    dropStranded() {
      for (const upstream of stranded) upstream.destroy();
      stranded.clear();
    },
    /** Stops the relay and closes every connection, stranded ones included. */
    async close() {
      isDown = true;
      cutAll();
      for (const upstream of stranded) upstream.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
