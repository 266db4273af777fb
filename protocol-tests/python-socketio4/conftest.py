"""Fixtures of the python-socketio 4.x suite, and its matrix lines.

The server-starting helpers are the python-socketio 5 suite's
(``../python/support``); this suite runs in its own venv
(``scripts/python-env socketio4``) because python-socketio 4 and 5 cannot be
installed side by side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from support import matrix, servers  # noqa: E402

CLIENT = "python-socketio Client 4.x"
SUITE = "python-socketio4"
# (id, transports passed to connect()); "upgrade" is tested, not reported.
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}

MATRIX = pytest.StashKey[matrix.Matrix]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[MATRIX] = matrix.Matrix()


@pytest.fixture(params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def transports(transport: str) -> list[str] | None:
    return TRANSPORTS[transport]


@pytest.fixture
def testapp() -> Iterator[str]:
    """A fresh test app per test, serving socket.io 2.x clients (allowEIO3)."""
    server = servers.start_testapp(env={"SIOBRIDGE_ALLOW_EIO3": "1"})
    try:
        yield server.url
    finally:
        server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    marker = item.get_closest_marker("feature")
    params = getattr(item, "callspec", None)
    if marker is not None and params is not None and (
        report.when == "call" or report.outcome != "passed"
    ):
        if report.failed:
            error = call.excinfo.exconly() if call.excinfo else report.longreprtext
            outcome, detail = "failed", matrix.first_line(error)
        else:
            outcome, detail = report.outcome, ""
        key = (CLIENT, params.params["transport"], marker.args[0])
        item.config.stash[MATRIX].record(key, item.originalname, outcome, detail)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = matrix.matrix_dir()
    if not directory:
        return
    path = Path(directory) / f"{SUITE}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        for (client, transport, feature), cell in sorted(session.config.stash[MATRIX].cells.items()):
            status, reason = cell.line()
            line = {"client": client, "transport": transport, "feature": feature,
                    "status": status, "reason": reason}
            out.write(json.dumps(line) + "\n")
