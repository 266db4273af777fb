"""Fixtures shared by the python-socketio suites, and the matrix hook."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from support import matrix, servers
from support.peers import AsyncPeer, SyncPeer

# (id, transports passed to connect()): polling only, websocket only, and the
# client's default, polling upgraded to websocket.
TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": None,
}
PEERS = {"sync": SyncPeer, "async": AsyncPeer}


MATRIX = pytest.StashKey[matrix.Matrix]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[MATRIX] = matrix.Matrix()


@pytest.fixture(params=list(PEERS))
def client_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def testapp() -> Iterator[str]:
    """A fresh test app per test, so no client of another test is around."""
    server = servers.start_testapp()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def make_peer(client_kind: str, transport: str) -> Iterator[Callable[..., SyncPeer | AsyncPeer]]:
    """Creates clients of the test's kind and transport; closes them all after."""
    created: list[SyncPeer | AsyncPeer] = []

    def make(**options):
        peer = PEERS[client_kind](TRANSPORTS[transport], **options)
        created.append(peer)
        return peer

    yield make
    for peer in created:
        peer.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    key = _matrix_key(item)
    if key is not None and (report.when == "call" or report.outcome != "passed"):
        outcome, detail = _outcome(report, call)
        item.config.stash[MATRIX].record(key, item.originalname, outcome, detail)
    return report


def _outcome(report: pytest.TestReport, call: pytest.CallInfo) -> tuple[str, str]:
    """The test's outcome for the matrix: an expected failure is a failure."""
    if hasattr(report, "wasxfail") and report.skipped:
        return "failed", f"known divergence: {report.wasxfail}"
    if report.failed:
        error = call.excinfo.exconly() if call.excinfo else report.longreprtext
        return "failed", matrix.first_line(error)
    if report.skipped and isinstance(report.longrepr, tuple):
        return "skipped", report.longrepr[2].removeprefix("Skipped: ")
    return report.outcome, ""


def _matrix_key(item: pytest.Item) -> tuple[str, str, str] | None:
    marker = item.get_closest_marker("feature")
    params = getattr(item, "callspec", None)
    if marker is None or params is None:
        return None
    kind = params.params.get("client_kind")
    transport = params.params.get("transport")
    client = PEERS[kind].client_name
    serializer = item.get_closest_marker("serializer")
    if serializer is not None:
        client = f"{client} + {serializer.args[0]}"
    return (client, transport, marker.args[0])


def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = matrix.matrix_dir()
    if directory:
        session.config.stash[MATRIX].write(directory)
