"""Test-only oracle: the digital.auto bridge subset the Python bridge test uses.

Implements, with python-socketio's own server (on aiohttp), the part of the
digital-auto profile (shared spec bridge-profiles.md, section 1) that
test_digital_auto_bridge.py exercises, so the test can be validated without
siobridge. It is no model of the whole profile.

- A-e1 ``register_provider {provider_id, name?}``: the registry maps the id to
  this socket (the last registration wins, R-A2).
- A-e2 ``register_client {master_provider_id}``: subscribes the socket to that
  provider's group (R-A3; a room per provider id).
- A-e3/A-e4 ``request_provider {to_provider_id, cmd, ...}``: sent to the
  provider's socket as ``new_request`` with ``request_from`` set to the
  requester's id, the server's value winning (R-A4).
- A-e5/A-e6 ``provider_reply {request_from, ...}``: forwarded unchanged to that
  socket only (R-A5).
- A-e7/A-e8 ``sent_to_my_clients`` (and ``send_to_all_clients``)
  ``{provider_id, ...}``: emitted unchanged as ``message_from_provider`` to the
  subscribers of a provider id this socket holds (R-A6).
Invalid payloads are dropped silently (R-A1).

Command line as siobridge's: ``reference_bridge.py --listen 127.0.0.1:0``
prints ``listening on 127.0.0.1:<port>`` first, and exits on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import socketio
from aiohttp import web

# A short heartbeat: python-engineio holds a long-poll GET until it has data or
# the ping interval ends, and a polling client's disconnect waits for that GET.
sio = socketio.AsyncServer(
    async_mode="aiohttp", cors_allowed_origins="*", ping_interval=1, ping_timeout=2
)
# provider_id -> sid of the socket that registered it last.
providers: dict[str, str] = {}


def non_empty_string(value: object) -> bool:
    return isinstance(value, str) and value != ""


def room_of(provider_id: str) -> str:
    # A prefix keeps provider groups apart from the rooms named after sids.
    return f"provider:{provider_id}"


@sio.on("register_provider")
async def register_provider(sid, payload=None, *_):
    if isinstance(payload, dict) and non_empty_string(payload.get("provider_id")):
        providers[payload["provider_id"]] = sid


@sio.on("register_client")
async def register_client(sid, payload=None, *_):
    if isinstance(payload, dict) and non_empty_string(payload.get("master_provider_id")):
        await sio.enter_room(sid, room_of(payload["master_provider_id"]))


@sio.on("request_provider")
async def request_provider(sid, payload=None, *_):
    if not isinstance(payload, dict) or not payload.get("cmd"):
        return
    provider = providers.get(payload.get("to_provider_id"))
    if non_empty_string(payload.get("to_provider_id")) and provider is not None:
        await sio.emit("new_request", {**payload, "request_from": sid}, to=provider)


@sio.on("provider_reply")
async def provider_reply(sid, payload=None, *_):
    if not isinstance(payload, dict) or not non_empty_string(payload.get("request_from")):
        return
    # Socket ids only, never room names (R-A5).
    if sio.manager.is_connected(payload["request_from"], "/"):
        await sio.emit("provider_reply", payload, to=payload["request_from"])


async def provider_broadcast(sid, payload=None, *_):
    if not isinstance(payload, dict):
        return
    held = [pid for pid, owner in providers.items() if owner == sid]
    target = payload.get("provider_id")
    targets = [target] if non_empty_string(target) else held
    for provider_id in targets:
        if provider_id in held:
            await sio.emit("message_from_provider", payload, room=room_of(provider_id))


sio.on("sent_to_my_clients", provider_broadcast)
sio.on("send_to_all_clients", provider_broadcast)


@sio.event
async def disconnect(sid, *_):
    for provider_id in [pid for pid, owner in providers.items() if owner == sid]:
        del providers[provider_id]


async def serve(host: str, port: int) -> None:
    # Handlers first: a test may send SIGTERM as soon as it reads the line.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    app = web.Application()
    sio.attach(app)
    # Open long-polls and websockets must not hold the exit for long.
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    print(f"listening on {bound_host}:{bound_port}", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:3000", help="HOST:PORT")
    host, _, port = parser.parse_args().listen.rpartition(":")
    asyncio.run(serve(host, int(port)))


if __name__ == "__main__":
    main()
