"""A small misbehaving web on loopback: real aiohttp servers in background threads.

Each ``LocalServer`` runs its own event loop in a thread, so both sync tests and tests that
call ``asyncio.run`` can talk to it. Every request is logged with the server-side monotonic
time, which is what the spacing tests measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    path: str
    at: float
    headers: dict[str, str]
    host: str


@dataclass
class LocalServer:
    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[path] = handler
            return handler

        return register

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(Hit(request.path, time.monotonic(), dict(request.headers), request.host))
        handler = self.routes.get(request.path)
        if handler is None:
            for prefix, candidate in self.routes.items():
                if prefix.endswith("*") and request.path.startswith(prefix[:-1]):
                    handler = candidate
                    break
        if handler is None:
            return web.Response(status=404, text="not here")
        return await handler(request)

    def start(self) -> LocalServer:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._dispatch)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
            self._runner = runner
            try:
                loop.run_until_complete(runner.setup())
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host, 0))
                self.port = sock.getsockname()[1]
                site = web.SockSite(runner, sock)
                loop.run_until_complete(site.start())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            # Cancel handlers still sleeping (the "hang" routes) so nothing leaks.
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            # A stuck cleanup must not fail the test.
            with contextlib.suppress(Exception):
                future.result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[LocalServer]:
    server = LocalServer(host=host).start()
    try:
        yield server
    finally:
        server.stop()


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@contextmanager
def connect_tripwire() -> Iterator[list[tuple[object, ...]]]:
    """Fail any connection attempt to a non-loopback address during the block.

    A safety net for tests about refused addresses (169.254.169.254, 10.x): if the guard
    under test were broken, the attempt is stopped here instead of leaving the machine.
    """
    import ipaddress

    attempts: list[tuple[object, ...]] = []
    original = asyncio.BaseEventLoop.sock_connect
    original_socket_connect = socket.socket.connect

    def allowed(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else None
        try:
            return host is not None and ipaddress.ip_address(str(host)).is_loopback
        except ValueError:
            return False

    async def guarded(self: asyncio.BaseEventLoop, sock: socket.socket, address: Any) -> None:
        if not allowed(address):
            attempts.append((address,))
            raise ConnectionRefusedError(f"tripwire: test tried to connect to {address}")
        await original(self, sock, address)

    def guarded_socket(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            attempts.append((address,))
            raise ConnectionRefusedError(f"tripwire: test tried to connect to {address}")
        original_socket_connect(self, address)

    asyncio.BaseEventLoop.sock_connect = guarded  # type: ignore[method-assign,assignment]
    socket.socket.connect = guarded_socket  # type: ignore[method-assign,assignment]
    try:
        yield attempts
    finally:
        asyncio.BaseEventLoop.sock_connect = original  # type: ignore[method-assign]
        socket.socket.connect = original_socket_connect  # type: ignore[method-assign]
