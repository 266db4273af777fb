"""Result lines for protocol-tests/MATRIX.md.

Each test of the client suite is marked with the matrix feature it shows
(``@pytest.mark.feature("emit-ack")``) and runs once per (client, transport).
A cell passes when every test mapped to it passed; it fails when one failed
(the reason names the first failing test and its error); it is "n/a" when its
tests were skipped (the reason is the skip's). When SIOBRIDGE_MATRIX_DIR is set,
one JSON line per cell is appended to ``$SIOBRIDGE_MATRIX_DIR/<suite>.jsonl``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

SUITE = "python-socketio"
# The transports the matrix has columns for; other runs (polling upgraded to
# websocket) are tested but not reported.
MATRIX_TRANSPORTS = ("polling", "websocket")
FEATURES = (
    "connect-auth",
    "auth-error",
    "emit-ack",
    "server-ack",
    "broadcast",
    "binary",
    "disconnect",
    "state-recovery",
)


@dataclass
class Cell:
    tests: list[str] = field(default_factory=list)
    failure: str | None = None
    skip: str | None = None

    def record(self, test: str, outcome: str, detail: str) -> None:
        if test not in self.tests:
            self.tests.append(test)
        if outcome == "failed" and self.failure is None:
            self.failure = f"{test}: {detail}"
        elif outcome == "skipped" and self.skip is None:
            self.skip = detail

    def line(self) -> tuple[str, str]:
        if self.failure is not None:
            return "fail", self.failure
        if self.skip is not None:
            return "n/a", self.skip
        return "pass", f"{len(self.tests)} test(s) passed: {', '.join(self.tests)}"


class Matrix:
    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, str], Cell] = {}

    def record(self, key: tuple[str, str, str], test: str, outcome: str, detail: str) -> None:
        client, transport, feature = key
        if transport not in MATRIX_TRANSPORTS:
            return
        if feature not in FEATURES:
            raise ValueError(f"{test}: unknown matrix feature {feature!r}")
        self.cells.setdefault(key, Cell()).record(test, outcome, detail)

    def write(self, directory: str) -> Path:
        path = Path(directory) / f"{SUITE}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            for (client, transport, feature), cell in sorted(self.cells.items()):
                status, reason = cell.line()
                line = {
                    "client": client,
                    "transport": transport,
                    "feature": feature,
                    "status": status,
                    "reason": reason,
                }
                out.write(json.dumps(line) + "\n")
        return path


def matrix_dir() -> str | None:
    return os.environ.get("SIOBRIDGE_MATRIX_DIR") or None


def first_line(text: str, limit: int = 200) -> str:
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
