"""python-socketio 5 with ``serializer="msgpack"`` against the test app with
the msgpack parser (SIOBRIDGE_PARSER=msgpack; the Node reference test app
then runs socket.io-msgpack-parser): connect with auth, events,
acknowledgements both ways, binary both ways, a broadcast, a disconnect.

Every test runs with the sync ``Client`` and the ``AsyncClient``, over
polling only, websocket only and polling upgraded to websocket (fixtures of
conftest.py). python-socketio's msgpack packets are the whole packet
``{type, data, nsp[, id]}`` in one binary message, binary values as
MessagePack ``bin``: the format of socket.io-msgpack-parser.
"""

from __future__ import annotations

from typing import Iterator

import pytest
import socketio

from support import servers
from support.peers import EVENT_TIMEOUT_S

pytestmark = pytest.mark.serializer("msgpack")
feature = pytest.mark.feature
ASK_TIMEOUT_MS = int(EVENT_TIMEOUT_S * 1000)
ALL_BYTES = bytes(range(256))


@pytest.fixture
def msgpack_app() -> Iterator[str]:
    server = servers.start_testapp(parser="msgpack")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def peer(make_peer):
    return lambda: make_peer(serializer="msgpack")


@feature("connect-auth")
def test_connect_with_auth_is_welcomed(msgpack_app, peer):
    p = peer()
    p.connect(msgpack_app, auth={"user": "ada", "level": 3})

    (welcome,) = p.inbox.expect("welcome")
    assert welcome == {"id": p.sid(), "nsp": "/", "auth": {"user": "ada", "level": 3}}
    assert p.connected


@feature("connect-auth")
def test_connect_without_auth(msgpack_app, peer):
    p = peer()
    p.connect(msgpack_app)

    (welcome,) = p.inbox.expect("welcome")
    assert welcome == {"id": p.sid(), "nsp": "/", "auth": {}}


@feature("connect-auth")
def test_private_namespace_token(msgpack_app, peer):
    ok = peer()
    ok.connect(msgpack_app, namespaces=["/private"], auth={"token": "secret"})
    (welcome,) = ok.inbox.expect("welcome", namespace="/private")
    assert welcome["auth"] == {"token": "secret"}


@feature("auth-error")
def test_private_namespace_refuses_with_the_servers_data(msgpack_app, peer):
    p = peer()
    with pytest.raises(socketio.exceptions.ConnectionError, match="/private"):
        p.connect(msgpack_app, namespaces=["/private"], auth={"token": "wrong"})

    (error,) = p.inbox.expect("connect_error", namespace="/private")
    assert error == {"message": "unauthorized", "data": {"code": 401}}
    assert not p.connected


@feature("emit-ack")
def test_event_and_acknowledgement(msgpack_app, peer):
    p = peer()
    p.connect(msgpack_app, auth={})

    p.emit("echo", "héllo 😀", 42, -1.5, {"nested": [1, None, True]})
    assert p.inbox.expect("echo") == ("héllo 😀", 42, -1.5, {"nested": [1, None, True]})
    assert p.call("echo", {"n": 1}, [2]) == ({"n": 1}, [2])


@feature("server-ack")
def test_server_gets_the_clients_acknowledgement(msgpack_app, peer):
    p = peer()
    p.answer("question", lambda data: {"answer": data["n"] + 1})
    p.connect(msgpack_app, auth={})

    outcome = p.call("ask", {"event": "question", "data": {"n": 1}, "timeout": ASK_TIMEOUT_MS})
    assert outcome == {"err": None, "reply": {"answer": 2}}


@feature("binary")
def test_binary_both_ways(msgpack_app, peer):
    p = peer()
    p.answer("want-bytes", lambda _data: b"\x00\x01\x02reply")
    p.connect(msgpack_app, auth={})

    p.emit("echo", ALL_BYTES, "text stays text", {"inner": b"\x00bin"})
    assert p.inbox.expect("echo") == (ALL_BYTES, "text stays text", {"inner": b"\x00bin"})
    blob = bytes(range(256)) * 300
    assert p.call("echo", blob, [b"", {"deep": [b"\x01"]}]) == (blob, [b"", {"deep": [b"\x01"]}])
    outcome = p.call("ask", {"event": "want-bytes", "data": "x", "timeout": ASK_TIMEOUT_MS})
    assert outcome == {"err": None, "reply": b"\x00\x01\x02reply"}


@feature("broadcast")
def test_broadcast_reaches_the_others(msgpack_app, peer):
    a, b = peer(), peer()
    a.connect(msgpack_app, auth={})
    b.connect(msgpack_app, auth={})

    # An acknowledgement without arguments: call() returns None.
    assert a.call("broadcast", {"event": "news", "data": {"from": "a"}}) is None
    assert b.inbox.expect("news") == ({"from": "a"},)


@feature("disconnect")
def test_server_disconnect(msgpack_app, peer):
    p = peer()
    p.connect(msgpack_app, auth={})

    p.emit("disconnect-me")
    p.inbox.expect("disconnect")
    assert not p.connected
