"""python-socketio 5 against a test app with connection state recovery on.

python-socketio has no connection state recovery: it never sends ``pid`` or
``offset``, so it never recovers, but it must keep working against a server
that offers recovery (SIOBRIDGE_STATE_RECOVERY). What it does see is the
offset the server appends as the last argument of every event that has no
acknowledgement and is not volatile (socket.io 4.6+'s wire format, the Node
reference's behaviour): python-socketio calls ``handler(*args)``, so a
handler receives the offset as one more argument, and a handler written for
the event's own arguments only raises ``TypeError`` (in the sync client's
handler thread, or the async client's task, where nobody catches it: the
handler never runs, the connection carries on).

Every test runs with both clients over polling, websocket and the default
upgrade, against a fresh test app; the matrix cell is ``state-recovery``.
"""

from __future__ import annotations

import threading

import pytest

from support import servers
from support.peers import EVENT_TIMEOUT_S, wait_until

feature = pytest.mark.feature
WINDOW_SECONDS = "30"


@pytest.fixture
def recovering_testapp():
    server = servers.start_testapp(env={"SIOBRIDGE_STATE_RECOVERY": WINDOW_SECONDS})
    try:
        yield server.url
    finally:
        server.stop()


def assert_offset(value) -> None:
    assert isinstance(value, str) and value != "", f"expected an offset, got {value!r}"


@feature("state-recovery")
def test_connects_exchanges_events_and_acks_with_recovery_on(recovering_testapp, make_peer):
    peer = make_peer()
    peer.connect(recovering_testapp, auth={"user": "ada"})

    # The welcome (socket.emit on the server) carries the offset as its last argument.
    welcome, offset = peer.inbox.expect("welcome")
    assert welcome == {"id": peer.sid(), "nsp": "/", "auth": {"user": "ada"}}
    assert_offset(offset)

    # Acknowledgements carry no offset.
    assert peer.call("echo", {"n": 1}) == {"n": 1}
    assert peer.call("echo", "a", 2) == ("a", 2)

    # An event: its arguments, then the offset.
    peer.emit("echo", "a", 2)
    *args, offset = peer.inbox.expect("echo")
    assert args == ["a", 2]
    assert_offset(offset)


@feature("state-recovery")
def test_broadcasts_and_room_events_carry_an_offset(recovering_testapp, make_peer):
    alice, bob = make_peer(), make_peer()
    alice.connect(recovering_testapp)
    bob.connect(recovering_testapp)
    assert alice.call("join", "r") == "r"

    bob.call("to-room", {"room": "r", "event": "news", "data": {"n": 1}})
    data, first = alice.inbox.expect("news")
    assert data == {"n": 1}
    bob.call("to-all", {"event": "news", "data": {"n": 2}})
    data, second = alice.inbox.expect("news")
    assert data == {"n": 2}
    assert_offset(first)
    assert_offset(second)
    assert first != second
    (data, _offset) = bob.inbox.expect("news")
    assert data == {"n": 2}


@feature("state-recovery")
def test_server_events_awaiting_an_ack_and_volatile_events_carry_no_offset(recovering_testapp, make_peer, transport):
    peer = make_peer()
    peer.answer("question", lambda data: {"answer": data["n"] + 1})
    peer.connect(recovering_testapp)

    reply = peer.call(
        "ask", {"event": "question", "data": {"n": 1}, "timeout": int(EVENT_TIMEOUT_S * 1000)}
    )
    assert reply == {"err": None, "reply": {"answer": 2}}
    assert peer.inbox.expect("question") == ({"n": 1},)

    # Over polling a volatile packet is dropped when no GET is pending on
    # the server at that instant, as the reference does: only a WebSocket
    # makes its arrival certain.
    if transport != "polling":
        peer.call("volatile", {"event": "fleeting", "data": "v"})
        assert peer.inbox.expect("fleeting") == ("v",)


def _capture_handler_errors(peer, client_kind: str, errors: list) -> callable:
    """Collects the exceptions raised by the client's handlers; returns the undo.

    The sync client runs each handler in a thread of its own, where an
    exception ends the thread (``threading.excepthook``); the async client in a
    task whose exception nobody retrieves (the loop's exception handler).
    """
    if client_kind == "sync":
        previous = threading.excepthook

        def hook(args):
            errors.append(args.exc_value)

        threading.excepthook = hook
        return lambda: setattr(threading, "excepthook", previous)
    loop = peer._loop
    loop.set_exception_handler(lambda _loop, context: errors.append(context.get("exception")))
    return lambda: loop.set_exception_handler(None)


@feature("state-recovery")
def test_a_handler_of_fixed_arity_gets_the_offset_and_raises_type_error(recovering_testapp, make_peer, client_kind):
    peer = make_peer()
    errors: list = []
    undo = _capture_handler_errors(peer, client_kind, errors)
    try:
        called: list[tuple] = []

        def strict(data):  # written for the event's one argument
            called.append(("strict", data))

        def flexible(data, *rest):
            called.append(("flexible", data, *rest))

        if client_kind == "async":

            async def strict_async(data):
                called.append(("strict", data))

            async def flexible_async(data, *rest):
                called.append(("flexible", data, *rest))

            strict, flexible = strict_async, flexible_async
        peer.client.on("strict", strict)
        peer.client.on("flexible", flexible)
        peer.connect(recovering_testapp)
        sid = peer.sid()

        peer.call("to-room", {"room": sid, "event": "strict", "data": 1})
        wait_until(
            lambda: any(isinstance(e, TypeError) for e in errors),
            "a TypeError from the handler of fixed arity",
        )
        peer.call("to-room", {"room": sid, "event": "flexible", "data": 2})
        wait_until(lambda: len(called) > 0, "the flexible handler's call")
        ((name, data, offset),) = called
        assert (name, data) == ("flexible", 2)
        assert_offset(offset)
        # The connection carries on.
        assert peer.call("echo", "still here") == "still here"
    finally:
        undo()
