"""The digital.auto provider bridge with python-socketio, as its users write it.

A provider and a client, each a sync ``socketio.Client`` written the way
digital.auto's Python sample providers are (``@sio.event`` handlers, the
registration emitted from ``connect``, the reply built as
``{**request, "result": ...}``), talk through the bridge: the round trip
``double_me`` 21 -> 42, then a stream of provider broadcasts, which the client
receives completely and in order. Spec: shared bridge-profiles.md, section 1
(A-e1 to A-e8, R-A4 to R-A7, scenarios 1 and 21).

The bridge is SIOBRIDGE_BIN started as ``siobridge --listen 127.0.0.1:0``
(default profile ``/=digital-auto``), or reference_bridge.py when unset.
"""

from __future__ import annotations

import queue
import threading

import pytest
import socketio

from support import servers
from support.peers import CONNECT_WAIT_S, EVENT_TIMEOUT_S

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}
# python-engineio decodes at most 16 packets per polling payload (see
# test_testapp.py, BURST); over websocket the stream can be long.
STREAM_LENGTH = {"polling": 10, "websocket": 200, "upgrade": 200}
# The provider's request to itself that tells it its registration is in place:
# the bridge handles one socket's events in order, so once this request comes
# back as new_request, register_provider was handled.
READY_PROBE = "ready?"


class Provider:
    """A provider as in digital.auto's Python samples."""

    def __init__(self, provider_id: str, name: str):
        self.provider_id = provider_id
        self.sio = socketio.Client()
        self.ready = threading.Event()
        self.requests: queue.Queue[dict] = queue.Queue()
        sio = self.sio

        @sio.event
        def connect():
            sio.emit("register_provider", {"provider_id": provider_id, "name": name})
            sio.emit("request_provider", {"to_provider_id": provider_id, "cmd": READY_PROBE})

        @sio.event
        def new_request(data):
            if data["cmd"] == READY_PROBE:
                self.ready.set()
                return
            self.requests.put(data)
            if data["cmd"] == "double_me":
                sio.emit("provider_reply", {**data, "result": data["data"] * 2})
            else:
                sio.emit("provider_reply", {**data, "result": f"cmd {data['cmd']} is not supported"})

    def send_to_my_clients(self, cmd: str, data) -> None:
        self.sio.emit("sent_to_my_clients", {"provider_id": self.provider_id, "cmd": cmd, "data": data})


class Client:
    """A client (a digital.auto plugin) subscribed to one provider."""

    def __init__(self, master_provider_id: str):
        self.sio = socketio.Client()
        self.replies: queue.Queue[dict] = queue.Queue()
        self.messages: queue.Queue[dict] = queue.Queue()
        sio = self.sio

        @sio.event
        def connect():
            sio.emit("register_client", {"master_provider_id": master_provider_id})

        @sio.event
        def provider_reply(data):
            self.replies.put(data)

        @sio.event
        def message_from_provider(data):
            self.messages.put(data)

    def request_provider(self, to_provider_id: str, cmd: str, data) -> None:
        self.sio.emit("request_provider", {"to_provider_id": to_provider_id, "cmd": cmd, "data": data})


def next_item(items: queue.Queue, what: str):
    try:
        return items.get(timeout=EVENT_TIMEOUT_S)
    except queue.Empty:
        raise AssertionError(f"no {what} within {EVENT_TIMEOUT_S} s") from None


@pytest.fixture
def bridge():
    server = servers.start_bridge()
    yield server
    server.stop()


@pytest.fixture
def connected(bridge, request):
    """Connects sync clients to the bridge; disconnects them all after."""
    made: list[socketio.Client] = []

    def connect(sio: socketio.Client, transport: str) -> None:
        made.append(sio)
        sio.connect(bridge.url, transports=TRANSPORTS[transport], wait_timeout=CONNECT_WAIT_S)

    yield connect
    for sio in made:
        sio.shutdown()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_provider_round_trip_and_broadcast_stream(connected, transport):
    provider = Provider("PY-PROVIDER", "Python provider")
    connected(provider.sio, transport)
    assert provider.ready.wait(EVENT_TIMEOUT_S), "the provider's registration was not confirmed"

    client = Client("PY-PROVIDER")
    connected(client.sio, transport)
    client.request_provider("PY-PROVIDER", "double_me", 21)

    request = next_item(provider.requests, "new_request at the provider")
    assert request == {
        "to_provider_id": "PY-PROVIDER",
        "cmd": "double_me",
        "data": 21,
        "request_from": client.sio.get_sid("/"),
    }
    reply = next_item(client.replies, "provider_reply at the client")
    assert reply == {**request, "result": 42}

    # The client's register_client was handled before its request (one
    # socket's events in order), so it is subscribed by now.
    count = STREAM_LENGTH[transport]
    for i in range(count):
        provider.send_to_my_clients("showSpeed", i)

    received = [next_item(client.messages, f"message_from_provider {i}") for i in range(count)]
    expected = [{"provider_id": "PY-PROVIDER", "cmd": "showSpeed", "data": i} for i in range(count)]
    assert received == expected
    assert client.replies.empty()
    assert provider.requests.empty()


def test_bridge_exits_cleanly_on_sigterm(bridge):
    """SIGTERM as soon as the bridge says it listens: a clean exit, status 0."""
    exit = bridge.stop()
    assert exit == servers.Exit(code=0, forced=False)
