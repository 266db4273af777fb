"""python-socketio 4.x (Socket.IO v4 over Engine.IO v3, the protocol of
socket.io 2.x) against the test app served with allowEIO3.

Every test runs over polling only, websocket only, and the client's default,
polling upgraded to websocket. The test app (SIOBRIDGE_TESTAPP, or the Node
reference) is started afresh for each test with SIOBRIDGE_ALLOW_EIO3=1. The
4.x client has no CONNECT payload: it is in ``/`` as soon as the Engine.IO
connection opens, its other namespaces are joined once ``/`` is, and a
namespace's query (``/private?token=...``) is its handshake auth. Each test
is marked with the MATRIX.md feature it shows.
"""

from __future__ import annotations

import queue
import time

import pytest
import socketio

feature = pytest.mark.feature
EVENT_TIMEOUT_S = 5.0


class Peer:
    """A python-socketio 4.x ``Client`` that records the events it gets."""

    def __init__(self, transports: list[str] | None, namespaces: list[str] = ()):
        self.sio = socketio.Client(reconnection=False)
        self.transports = transports
        self.namespaces = list(namespaces)
        self.inbox: queue.Queue = queue.Queue()
        self.pending: list = []
        for namespace in ["/", *(n.split("?")[0] for n in namespaces)]:
            for event in ("welcome", "echo", "news", "connect_error", "disconnect", "connect"):
                self.sio.on(event, self._recorder(event, namespace), namespace=namespace)

    def _recorder(self, event: str, namespace: str):
        def record(*args):
            self.inbox.put((event, namespace, args))
        return record

    def connect(self, url: str) -> None:
        self.sio.connect(url, transports=self.transports, namespaces=self.namespaces or None)

    def expect(self, event: str, namespace: str = "/") -> tuple:
        """The arguments of the first `event` on `namespace` not taken yet;
        the other events stay for later calls."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while True:
            for i, (got, ns, args) in enumerate(self.pending):
                if (got, ns) == (event, namespace):
                    del self.pending[i]
                    return args
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event!r} on {namespace} within {EVENT_TIMEOUT_S} s")
            try:
                self.pending.append(self.inbox.get(timeout=left))
            except queue.Empty:
                pass

    def call(self, event: str, data=None, namespace: str = "/"):
        return self.sio.call(event, data, namespace=namespace, timeout=EVENT_TIMEOUT_S)

    def close(self) -> None:
        if self.sio.eio.state == "connected":
            self.sio.disconnect()


@pytest.fixture
def peers(transports):
    created: list[Peer] = []

    def make(namespaces: list[str] = ()) -> Peer:
        peer = Peer(transports, namespaces)
        created.append(peer)
        return peer

    yield make
    for peer in created:
        peer.close()


@feature("connect-auth")
def test_in_root_at_once_with_the_engine_id(testapp, peers, transport):
    peer = peers()
    peer.connect(testapp)
    (welcome,) = peer.expect("welcome")
    assert welcome == {"id": peer.sio.sid, "nsp": "/", "auth": {}}
    assert peer.sio.eio.transport() == ("polling" if transport == "polling" else "websocket")


@feature("connect-auth")
def test_namespaces_join_with_their_query_as_auth(testapp, peers):
    peer = peers(["/custom", "/private?token=secret"])
    peer.connect(testapp)
    (custom,) = peer.expect("welcome", "/custom")
    assert custom == {"id": f"/custom#{peer.sio.sid}", "nsp": "/custom", "auth": {}}
    (private,) = peer.expect("welcome", "/private")
    assert private == {"id": f"/private#{peer.sio.sid}", "nsp": "/private", "auth": {"token": "secret"}}


@feature("auth-error")
def test_refusals_carry_the_error_data(testapp, peers):
    peer = peers(["/private?token=wrong", "/nope"])
    peer.connect(testapp)
    assert peer.expect("connect_error", "/private") == ({"code": 401},)
    assert peer.expect("connect_error", "/nope") == ({"message": "Invalid namespace"},)
    # The refusals leave `/` connected.
    assert peer.call("echo", "still") == "still"


@feature("emit-ack")
def test_events_are_acknowledged_with_their_arguments(testapp, peers):
    peer = peers()
    peer.connect(testapp)
    peer.expect("welcome")
    payload = {"text": "héllo 😀", "n": 42, "list": [1, None, "x"]}
    assert peer.call("echo", payload) == payload
    assert peer.call("echo", ("a", 1, [2])) == ("a", 1, [2])
    peer.sio.emit("echo", "no ack")
    assert peer.expect("echo") == ("no ack",)


@feature("server-ack")
def test_the_server_gets_the_answer_to_its_event(testapp, peers):
    peer = peers()
    peer.sio.on("question", lambda data: {"answer": data["n"] + 1})
    peer.connect(testapp)
    peer.expect("welcome")
    reply = peer.call("ask", {"event": "question", "data": {"n": 1}, "timeout": 2000})
    assert reply == {"err": None, "reply": {"answer": 2}}


@feature("broadcast")
def test_broadcast_reaches_the_others(testapp, peers):
    a, b = peers(), peers()
    for peer in (a, b):
        peer.connect(testapp)
        peer.expect("welcome")
    assert a.call("join", "r1") == "r1"
    assert b.call("join", "r1") == "r1"
    a.call("broadcast", {"event": "news", "data": {"from": "A"}})
    assert b.expect("news") == ({"from": "A"},)
    a.call("to-room", {"room": "r1", "event": "news", "data": "r1"})
    assert a.expect("news") == ("r1",)
    assert b.expect("news") == ("r1",)


@feature("binary")
def test_binary_comes_back_byte_for_byte(testapp, peers):
    peer = peers()
    peer.connect(testapp)
    peer.expect("welcome")
    data = bytes(range(256))
    assert peer.call("echo", data) == data
    assert peer.call("echo", ({"file": b"\x00\x01", "name": "x"}, b"\xff")) == (
        {"file": b"\x00\x01", "name": "x"},
        b"\xff",
    )
    peer.sio.emit("echo", b"\x07\x08")
    assert peer.expect("echo") == (b"\x07\x08",)


@feature("disconnect")
def test_server_and_client_disconnects(testapp, peers):
    peer = peers()
    peer.connect(testapp)
    peer.expect("welcome")
    peer.sio.emit("disconnect-me")
    peer.expect("disconnect")
    assert not peer.sio.connected

    # The 4.x client fires no `disconnect` for its own disconnect(): it sends
    # DISCONNECT and closes the Engine.IO connection.
    other = peers()
    other.connect(testapp)
    other.expect("welcome")
    other.sio.disconnect()
    assert not other.sio.connected
    assert other.sio.eio.state == "disconnected"
