"""Starts a server under test as a child process, as the Node suites do.

The contract shared by every server (protocol-tests/node/README.md, "The
server contract"): it listens on an ephemeral port of 127.0.0.1, prints
``listening on 127.0.0.1:<port>`` as its first stdout line, and exits
cleanly on SIGTERM.

Which executable runs is chosen by an environment variable; when it is unset
a reference implementation runs instead (see ``resolve``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

LISTENING_LINE = re.compile(r"^listening on 127\.0\.0\.1:(\d+)$")
START_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0
# How much of the server's stderr to quote when it fails.
STDERR_TAIL_LINES = 40

HERE = Path(__file__).resolve().parent.parent
NODE_DIR = HERE.parent / "node"


def resolve(variable: str, reference: Path) -> list[str]:
    """The command line of the server named by ``variable``.

    The variable holds a path to an executable (relative paths are resolved
    from the current directory); a ``.mjs``/``.js`` file is run with Node and
    a ``.py`` file with this interpreter. Unset, ``reference`` runs.
    """
    executable = Path(os.environ.get(variable) or reference).resolve()
    if executable.suffix in (".mjs", ".js"):
        return ["node", str(executable)]
    if executable.suffix == ".py":
        return [sys.executable, str(executable)]
    return [str(executable)]


@dataclass
class Exit:
    code: int | None
    forced: bool


class RunningServer:
    """A started server: its URL, and ``stop()`` to end it."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.name = " ".join(argv)
        self._verbose = bool(os.environ.get("SIOBRIDGE_TEST_VERBOSE"))
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._first_line: list[str] = []
        self._got_first_line = threading.Event()
        self._exit: Exit | None = None
        self._process = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Both pipes are drained for the server's whole life, so a chatty
        # server never blocks on a full pipe.
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.port = self._wait_for_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_stdout(self) -> None:
        for line in self._process.stdout:
            if not self._got_first_line.is_set():
                self._first_line.append(line.rstrip("\n"))
                self._got_first_line.set()
            if self._verbose:
                sys.stderr.write(f"[server stdout] {line}")
        # End of output without a line: let the waiter report the exit.
        self._got_first_line.set()

    def _read_stderr(self) -> None:
        for line in self._process.stderr:
            self._stderr_tail.append(line)
            if self._verbose:
                sys.stderr.write(line)

    def _wait_for_port(self) -> int:
        if not self._got_first_line.wait(START_TIMEOUT_S):
            self._fail(f"did not print its listening line within {START_TIMEOUT_S} s")
        if not self._first_line:
            code = self._process.wait()
            self._fail(f"exited (status {code}) before listening")
        match = LISTENING_LINE.match(self._first_line[0])
        if not match:
            self._fail(
                f"printed {self._first_line[0]!r} instead of 'listening on 127.0.0.1:<port>'"
            )
        return int(match.group(1))

    def _fail(self, reason: str) -> None:
        self._process.kill()
        self._process.wait()
        stderr = "".join(self._stderr_tail)
        raise RuntimeError(
            f"server {self.name} {reason}"
            + (f"\n--- server stderr ---\n{stderr}" if stderr else "")
        )

    def stop(self) -> Exit:
        """Sends SIGTERM and waits for the exit (SIGKILL after a grace period).

        Calling it again returns the first result.
        """
        if self._exit is None:
            if self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
            forced = False
            try:
                self._process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                forced = True
                self._process.kill()
                self._process.wait()
            self._exit = Exit(self._process.returncode, forced)
        return self._exit


def start_testapp(parser: str = "json", env: dict[str, str] | None = None) -> RunningServer:
    """The Socket.IO test app: SIOBRIDGE_TESTAPP, or the Node reference.

    ``parser`` is its SIOBRIDGE_PARSER: ``json`` or ``msgpack``; ``env`` adds
    settings the test app reads (examples/common/limits.rs).
    """
    argv = resolve("SIOBRIDGE_TESTAPP", NODE_DIR / "reference" / "socketio-testapp.mjs")
    return RunningServer(
        argv, {"CONFORMANCE_PORT": "0", "SIOBRIDGE_PARSER": parser, **(env or {})}
    )


def testapp_is_siobridge() -> bool:
    """Whether SIOBRIDGE_TESTAPP names siobridge's test app (not the reference)."""
    return bool(os.environ.get("SIOBRIDGE_TESTAPP"))


def bridge_is_siobridge() -> bool:
    """Whether SIOBRIDGE_BIN names siobridge (not reference_bridge.py)."""
    return resolve("SIOBRIDGE_BIN", HERE / "reference_bridge.py")[0] != sys.executable


def start_bridge(*args: str) -> RunningServer:
    """The siobridge binary: SIOBRIDGE_BIN, or reference_bridge.py.

    Started as ``siobridge --listen 127.0.0.1:0 [args...]``.
    """
    argv = resolve("SIOBRIDGE_BIN", HERE / "reference_bridge.py")
    return RunningServer([*argv, "--listen", "127.0.0.1:0", *args], {})
