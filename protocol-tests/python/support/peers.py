"""The two official python-socketio clients behind one blocking interface.

The scenarios in test_testapp.py are written once and run with both the sync
``socketio.Client`` (requests + websocket-client) and the ``socketio.AsyncClient``
(aiohttp). ``SyncPeer`` calls the sync client directly; ``AsyncPeer`` runs the
async client on an event loop of its own thread and waits for each
coroutine, so every call below goes through the client's public API
unchanged: ``connect``, ``emit`` with a callback, ``call``, ``disconnect``,
``on`` handlers (coroutines for the async client) and handler return values
as acknowledgements.

Everything a client receives (events, and its ``connect``, ``disconnect`` and
``connect_error`` notifications) is recorded in its ``Inbox``, which tests
wait on with a timeout: a timeout is only an upper bound for an event that is
expected.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import socketio

# The most time allowed for an expected event (an upper bound, never a wait).
EVENT_TIMEOUT_S = 5.0
# How long connect() waits for the server's CONNECT packets; the client's own
# default (1 s) is short for a loaded two-core CI machine.
CONNECT_WAIT_S = 5.0

SYNC = "python-socketio Client 5.x"
ASYNC = "python-socketio AsyncClient 5.x"


@dataclass(frozen=True)
class Received:
    namespace: str
    event: str
    args: tuple


class Inbox:
    """What a client received, in arrival order; thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._items: list[Received] = []

    def put(self, namespace: str, event: str, args: tuple) -> None:
        with self._changed:
            self._items.append(Received(namespace, event, args))
            self._changed.notify_all()

    def expect(self, event: str, namespace: str = "/", timeout: float = EVENT_TIMEOUT_S) -> tuple:
        """The arguments of the first unread ``event``, waiting for it.

        The event is taken out of the inbox, so expecting it again waits for
        the next one.
        """
        with self._changed:
            found = self._changed.wait_for(lambda: self._find(event, namespace), timeout)
            if not found:
                raise AssertionError(
                    f"no {event!r} on {namespace!r} within {timeout} s; "
                    f"unread: {self._describe()}"
                )
            self._items.remove(found)
            return found.args

    def unread(self, namespace: str = "/") -> list[tuple[str, tuple]]:
        """The events received and not yet expected, as (event, args)."""
        with self._changed:
            return [(r.event, r.args) for r in self._items if r.namespace == namespace]

    def _find(self, event: str, namespace: str) -> Received | None:
        return next(
            (r for r in self._items if r.event == event and r.namespace == namespace), None
        )

    def _describe(self) -> str:
        return ", ".join(f"{r.event}@{r.namespace}{r.args!r}" for r in self._items) or "nothing"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = EVENT_TIMEOUT_S) -> None:
    """Waits for a state the client reaches on its own (``connected`` flags).

    Only for states no event reports: it polls, and the timeout is an upper
    bound.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


class Callback:
    """An emit callback (acknowledgement) a test can wait for."""

    def __init__(self) -> None:
        self._called = threading.Event()
        self.args: tuple = ()

    def __call__(self, *args: Any) -> None:
        self.args = args
        self._called.set()

    def wait(self, timeout: float = EVENT_TIMEOUT_S) -> tuple:
        if not self._called.wait(timeout):
            raise AssertionError(f"the acknowledgement did not come within {timeout} s")
        return self.args


# Notifications the client delivers to handlers of these reserved names.
RESERVED = ("connect", "disconnect", "connect_error")


class SyncPeer:
    """The sync ``socketio.Client``."""

    client_name = SYNC

    def __init__(self, transports: list[str] | None, **options: Any) -> None:
        self.transports = transports
        self.inbox = Inbox()
        self.client = socketio.Client(**options)
        # Handlers on the '*' namespace get the namespace as first argument.
        for name in RESERVED:
            self.client.on(name, self._recorder(name), namespace="*")
        self.client.on("*", self._record_event, namespace="*")

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(namespace: str, *args: Any) -> None:
            self.inbox.put(namespace, name, args)

        return record

    def _record_event(self, event: str, namespace: str, *args: Any) -> None:
        self.inbox.put(namespace, event, args)

    def answer(self, event: str, reply: Callable[..., Any]) -> None:
        """Acknowledges ``event`` with ``reply(*args)`` (the handler's return value)."""

        def handler(namespace: str, *args: Any) -> Any:
            self.inbox.put(namespace, event, args)
            return reply(*args)

        self.client.on(event, handler, namespace="*")

    def connect(self, url: str, namespaces: Sequence[str] = ("/",), auth: Any = None) -> None:
        self.client.connect(
            url,
            auth=auth,
            transports=self.transports,
            namespaces=list(namespaces),
            wait_timeout=CONNECT_WAIT_S,
        )

    def emit(self, event: str, *args: Any, namespace: str = "/", callback: Any = None) -> None:
        self.client.emit(event, args, namespace=namespace, callback=callback)

    def call(self, event: str, *args: Any, namespace: str = "/") -> Any:
        return self.client.call(event, args, namespace=namespace, timeout=EVENT_TIMEOUT_S)

    def disconnect(self) -> None:
        self.client.disconnect()

    def sid(self, namespace: str = "/") -> str | None:
        return self.client.get_sid(namespace)

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def transport(self) -> str:
        return self.client.transport()

    def close(self) -> None:
        """Ends the connection and any reconnection attempt."""
        self.client.shutdown()


class AsyncPeer:
    """The ``socketio.AsyncClient``, driven from the test's thread.

    The client lives on an event loop running in a thread of its own; each
    method submits one coroutine of the client's API to it and waits for the
    result.
    """

    client_name = ASYNC

    def __init__(self, transports: list[str] | None, **options: Any) -> None:
        self.transports = transports
        self.inbox = Inbox()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        # aiohttp sessions must be created on the loop that uses them.
        self.client = self._run(self._create(options))

    async def _create(self, options: dict[str, Any]) -> socketio.AsyncClient:
        client = socketio.AsyncClient(**options)
        for name in RESERVED:
            client.on(name, self._recorder(name), namespace="*")
        client.on("*", self._record_event, namespace="*")
        return client

    def _recorder(self, name: str) -> Callable[..., Any]:
        async def record(namespace: str, *args: Any) -> None:
            self.inbox.put(namespace, name, args)

        return record

    async def _record_event(self, event: str, namespace: str, *args: Any) -> None:
        self.inbox.put(namespace, event, args)

    def _run(self, coroutine: Any, timeout: float = 2 * EVENT_TIMEOUT_S) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def answer(self, event: str, reply: Callable[..., Any]) -> None:
        """Acknowledges ``event`` with ``reply(*args)`` (the handler's return value)."""

        async def handler(namespace: str, *args: Any) -> Any:
            self.inbox.put(namespace, event, args)
            return reply(*args)

        self.client.on(event, handler, namespace="*")

    def connect(self, url: str, namespaces: Sequence[str] = ("/",), auth: Any = None) -> None:
        self._run(
            self.client.connect(
                url,
                auth=auth,
                transports=self.transports,
                namespaces=list(namespaces),
                wait_timeout=CONNECT_WAIT_S,
            )
        )

    def emit(self, event: str, *args: Any, namespace: str = "/", callback: Any = None) -> None:
        self._run(self.client.emit(event, args, namespace=namespace, callback=callback))

    def call(self, event: str, *args: Any, namespace: str = "/") -> Any:
        return self._run(
            self.client.call(event, args, namespace=namespace, timeout=EVENT_TIMEOUT_S)
        )

    def disconnect(self) -> None:
        self._run(self.client.disconnect())

    def sid(self, namespace: str = "/") -> str | None:
        return self.client.get_sid(namespace)

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def transport(self) -> str:
        return self.client.transport()

    def close(self) -> None:
        """Ends the connection and any reconnection attempt, then the loop."""
        try:
            self._run(self.client.shutdown())
        finally:
            self._run(_cancel_other_tasks())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(EVENT_TIMEOUT_S)
            self._loop.close()


async def _cancel_other_tasks() -> None:
    """Ends what a closed connection left on the loop (idle write loops)."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
