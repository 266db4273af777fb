"""The official python-socketio clients against the Socket.IO test app.

Every test runs with the sync ``Client`` and the ``AsyncClient`` (fixture
``client_kind``), each over polling only, websocket only, and the client's
default, polling upgraded to websocket (fixture ``transport``). The test app
(SIOBRIDGE_TESTAPP, or the Node reference) is started afresh for each test;
its contract is in protocol-tests/node/README.md, "The test-app contract".

Each test is marked with the MATRIX.md feature it shows.
"""

from __future__ import annotations

import os

import pytest
import socketio

from support.peers import EVENT_TIMEOUT_S, Callback, wait_until

feature = pytest.mark.feature
# Server-side ack timeouts: upper bounds, never reached when the client answers.
ASK_TIMEOUT_MS = int(EVENT_TIMEOUT_S * 1000)
# Short reconnection delays, so a reconnecting client is back quickly.
FAST_RECONNECT = {"reconnection_delay": 0.1, "randomization_factor": 0}
# python-engineio decodes at most 16 packets per polling payload and drops the
# connection on more (python-engineio issue 142, "a known limitation"); the
# reference server puts every queued packet in one payload, so a burst stays
# below that.
BURST = 10


def expected_transport(transport: str) -> str:
    """The transport in use once connect() returned: upgrades finish inside it."""
    return "polling" if transport == "polling" else "websocket"


# --- connect-auth ---------------------------------------------------------


@feature("connect-auth")
def test_connect_sends_auth_and_is_welcomed(testapp, make_peer, transport):
    peer = make_peer()
    peer.connect(testapp, auth={"user": "ada", "level": 3})

    assert peer.inbox.expect("connect") == ()
    (welcome,) = peer.inbox.expect("welcome")
    assert welcome == {"id": peer.sid(), "nsp": "/", "auth": {"user": "ada", "level": 3}}
    assert peer.connected
    assert peer.transport == expected_transport(transport)


@feature("connect-auth")
def test_connect_without_auth_sends_an_empty_payload(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp)

    (welcome,) = peer.inbox.expect("welcome")
    assert welcome == {"id": peer.sid(), "nsp": "/", "auth": {}}


@feature("connect-auth")
def test_private_namespace_admits_the_right_token(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp, namespaces=["/private"], auth={"token": "secret", "user": "ada"})

    (welcome,) = peer.inbox.expect("welcome", namespace="/private")
    assert welcome == {
        "id": peer.sid("/private"),
        "nsp": "/private",
        "auth": {"token": "secret", "user": "ada"},
    }


@feature("connect-auth")
def test_two_namespaces_on_one_connection(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp, namespaces=["/", "/custom"], auth={"token": "t"})

    for namespace in ("/", "/custom"):
        (welcome,) = peer.inbox.expect("welcome", namespace=namespace)
        assert welcome == {"id": peer.sid(namespace), "nsp": namespace, "auth": {"token": "t"}}
    assert peer.sid("/") != peer.sid("/custom")
    assert peer.call("echo", "via custom", namespace="/custom") == "via custom"


# --- auth-error -----------------------------------------------------------


@feature("auth-error")
@pytest.mark.parametrize("auth", [{"token": "wrong"}, None], ids=["wrong-token", "no-auth"])
def test_private_namespace_refuses_with_the_servers_data(testapp, make_peer, auth):
    peer = make_peer()
    with pytest.raises(socketio.exceptions.ConnectionError, match="/private"):
        peer.connect(testapp, namespaces=["/private"], auth=auth)

    (error,) = peer.inbox.expect("connect_error", namespace="/private")
    assert error == {"message": "unauthorized", "data": {"code": 401}}
    assert not peer.connected


def test_unknown_namespace_is_refused(testapp, make_peer):
    peer = make_peer()
    with pytest.raises(socketio.exceptions.ConnectionError, match="/nope"):
        peer.connect(testapp, namespaces=["/nope"])

    (error,) = peer.inbox.expect("connect_error", namespace="/nope")
    assert error == {"message": "Invalid namespace"}


# --- emit-ack -------------------------------------------------------------


@feature("emit-ack")
def test_call_returns_the_servers_acknowledgement(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp)

    nested = {"list": [1, None, True, 2.5], "text": "héllo ✓"}
    assert peer.call("echo", "hello", 42, nested) == ("hello", 42, nested)
    assert peer.call("echo", "one argument") == "one argument"
    assert peer.call("echo") is None


@feature("emit-ack")
def test_emit_callback_gets_the_acknowledgement(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp)

    first, second = Callback(), Callback()
    peer.emit("echo", "a", [1, 2], callback=first)
    peer.emit("echo", {"b": None}, callback=second)

    assert first.wait() == ("a", [1, 2])
    assert second.wait() == ({"b": None},)


def test_a_burst_of_events_comes_back(testapp, make_peer, client_kind):
    peer = make_peer()
    peer.connect(testapp)

    for i in range(BURST):
        peer.emit("echo", "n", i)

    received = [peer.inbox.expect("echo") for _ in range(BURST)]
    expected = [("n", i) for i in range(BURST)]
    if client_kind == "async":
        assert received == expected
    else:
        # The sync client runs each handler on a thread of its own, so its
        # handlers may see events out of order: compare the set.
        assert sorted(received, key=lambda args: args[1]) == expected


# --- server-ack -----------------------------------------------------------


@feature("server-ack")
def test_server_gets_the_clients_acknowledgement(testapp, make_peer):
    peer = make_peer()
    peer.answer("question", lambda subject: f"answer about {subject}")
    peer.connect(testapp)

    outcome = peer.call("ask", {"event": "question", "data": "life", "timeout": ASK_TIMEOUT_MS})

    assert peer.inbox.expect("question") == ("life",)
    assert outcome == {"err": None, "reply": "answer about life"}


@feature("server-ack")
def test_handler_returning_nothing_acknowledges_without_arguments(testapp, make_peer):
    # python-socketio acknowledges every event that asks for it, with the
    # handler's return value: here none, which the server sees as no reply.
    peer = make_peer()
    peer.connect(testapp)

    outcome = peer.call("ask", {"event": "poke", "data": 1, "timeout": ASK_TIMEOUT_MS})

    assert peer.inbox.expect("poke") == (1,)
    assert outcome == {"err": None, "reply": None}


@feature("server-ack")
def test_server_collects_every_clients_acknowledgement(testapp, make_peer):
    peers = [make_peer() for _ in range(3)]
    for index, peer in enumerate(peers):
        peer.answer("roll-call", lambda _data, name=f"peer-{index}": name)
        peer.connect(testapp)
        peer.inbox.expect("welcome")

    outcome = peers[0].call(
        "ask-all", {"event": "roll-call", "data": None, "timeout": ASK_TIMEOUT_MS}
    )

    assert outcome == {"err": None, "replies": ["peer-0", "peer-1", "peer-2"]}


# --- broadcast ------------------------------------------------------------


@feature("broadcast")
def test_broadcast_from_another_client_reaches_the_others(testapp, make_peer):
    sender, first, second = make_peer(), make_peer(), make_peer()
    for peer in (sender, first, second):
        peer.connect(testapp)
        peer.inbox.expect("welcome")

    news = {"headline": "siobridge speaks Python", "n": 1}
    assert sender.call("broadcast", {"event": "news", "data": news}) is None

    assert first.inbox.expect("news") == (news,)
    assert second.inbox.expect("news") == (news,)
    # The server emits before it acknowledges, so a copy for the sender would
    # have arrived before call() returned; one more round trip lets its
    # handler run.
    sender.call("echo")
    assert ("news", (news,)) not in sender.inbox.unread()


@feature("broadcast")
def test_broadcast_to_all_includes_the_sender(testapp, make_peer):
    sender, other = make_peer(), make_peer()
    for peer in (sender, other):
        peer.connect(testapp)
        peer.inbox.expect("welcome")

    sender.call("to-all", {"event": "alert", "data": [1, "two"]})

    assert sender.inbox.expect("alert") == ([1, "two"],)
    assert other.inbox.expect("alert") == ([1, "two"],)


@feature("broadcast")
def test_room_broadcast_reaches_members_only(testapp, make_peer):
    member, outsider, sender = make_peer(), make_peer(), make_peer()
    for peer in (member, outsider, sender):
        peer.connect(testapp)
        peer.inbox.expect("welcome")
    assert member.call("join", "python") == "python"

    sender.call("to-room", {"room": "python", "event": "room-news", "data": "hi room"})

    assert member.inbox.expect("room-news") == ("hi room",)
    # As above: anything for the outsider or the sender would precede these acks.
    outsider.call("echo")
    sender.call("echo")
    assert ("room-news", ("hi room",)) not in outsider.inbox.unread()
    assert ("room-news", ("hi room",)) not in sender.inbox.unread()


# --- binary ---------------------------------------------------------------

# Every byte value, and a blob large enough to span several transport frames.
ALL_BYTES = bytes(range(256))
BLOB = os.urandom(200_000)


@feature("binary")
def test_binary_in_events_both_ways(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp)

    peer.emit("echo", ALL_BYTES, "text stays text", {"inner": b"\x00bin"})

    assert peer.inbox.expect("echo") == (ALL_BYTES, "text stays text", {"inner": b"\x00bin"})


@feature("binary")
def test_binary_in_acknowledgements(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp)

    reply = peer.call("echo", BLOB, [b"", b"\xff", {"deep": [b"\x01\x02"]}])

    assert reply == (BLOB, [b"", b"\xff", {"deep": [b"\x01\x02"]}])


@feature("binary")
def test_binary_in_server_to_client_ack(testapp, make_peer):
    peer = make_peer()
    peer.answer("want-bytes", lambda _data: b"\x00\x01\x02reply")
    peer.connect(testapp)

    outcome = peer.call("ask", {"event": "want-bytes", "data": "x", "timeout": ASK_TIMEOUT_MS})

    # The test app forwards the reply as it came: binary stays binary.
    assert outcome == {"err": None, "reply": b"\x00\x01\x02reply"}


# --- disconnect -----------------------------------------------------------


@feature("disconnect")
def test_client_disconnect_and_connect_again(testapp, make_peer):
    peer = make_peer()
    peer.connect(testapp)
    (first,) = peer.inbox.expect("welcome")

    peer.disconnect()

    assert peer.inbox.expect("disconnect") == (socketio.Client.reason.CLIENT_DISCONNECT,)
    assert not peer.connected
    with pytest.raises(socketio.exceptions.BadNamespaceError):
        peer.emit("echo", "after disconnect")

    peer.connect(testapp)
    (second,) = peer.inbox.expect("welcome")
    assert second["id"] == peer.sid() != first["id"]
    assert peer.call("echo", "back") == "back"


@feature("disconnect")
def test_server_disconnect(testapp, make_peer):
    peer = make_peer(**FAST_RECONNECT)
    peer.connect(testapp)
    peer.inbox.expect("welcome")

    peer.emit("disconnect-me")

    assert peer.inbox.expect("disconnect") == (socketio.Client.reason.SERVER_DISCONNECT,)
    wait_until(lambda: not peer.connected, "the client's disconnected state")


@feature("disconnect")
def test_server_closing_the_transport(testapp, make_peer, transport):
    """The server closes the Engine.IO connection (``close-transport``).

    Over polling the reference server says so with an Engine.IO close packet,
    which python-socketio takes as a deliberate disconnect: it does not
    reconnect. Over websocket it closes the socket without a close packet
    (engine.io's websocket transport, doClose); the client sees a transport
    error and reconnects, as a new socket.
    """
    peer = make_peer(**FAST_RECONNECT)
    peer.connect(testapp)
    (before,) = peer.inbox.expect("welcome")

    peer.emit("close-transport")

    if transport == "polling":
        assert peer.inbox.expect("disconnect") == (socketio.Client.reason.SERVER_DISCONNECT,)
        wait_until(lambda: not peer.connected, "the client's disconnected state")
    else:
        assert peer.inbox.expect("disconnect") == (socketio.Client.reason.TRANSPORT_ERROR,)
        (after,) = peer.inbox.expect("welcome")
        assert after["id"] != before["id"]
        assert peer.call("echo", "reconnected") == "reconnected"
