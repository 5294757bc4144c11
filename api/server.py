"""How the app is served: uvicorn, with limits that hold without a reverse proxy in front.

uvicorn closes idle keep-alive connections and caps connections (503 beyond), but waits forever
for a request's headers. The protocol here adds what is missing:

- a request's line and headers must arrive within `header_timeout_seconds` of the connection
  opening (or of the previous response) and within `max_header_bytes`; otherwise the connection
  gets 408 or 431 and is closed;
- when the server is at `max_connections`, a new connection closes the connection that has been
  waiting longest for its headers, so connections that send nothing cannot shut others out.

The request body's own deadline is kept by `RequestContext` (api/middleware.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from assistant import Settings

if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as FastestProtocol
else:  # pragma: no cover - httptools comes with uvicorn's standard extra
    FastestProtocol = H11Protocol  # type: ignore[assignment, misc]


class _HeaderGuard:
    """Mixed into uvicorn's HTTP protocols (both set `self.cycle` when a request's headers are
    complete, and call `on_response_complete` after each response)."""

    header_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    # Connections waiting for headers, oldest first (dicts keep insertion order); one per server.
    _waiting: dict[_HeaderGuard, None] = {}
    # Set by uvicorn's protocol.
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any
    connections: set[Any]
    limit_concurrency: int | None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._make_room()
        self._await_headers()

    def _make_room(self) -> None:
        if self.limit_concurrency is None:
            return
        # uvicorn answers 503 when a request's headers arrive at `limit` connections.
        excess = len(self.connections) - self.limit_concurrency + 1
        for connection in list(self._waiting)[: max(0, excess)]:
            connection._give_up(b"503 Service Unavailable")

    def _await_headers(self) -> None:
        self._header_bytes = 0
        self._timer = self.loop.call_later(
            self.header_timeout, self._give_up, b"408 Request Timeout"
        )
        self._waiting[self] = None

    def _stop_waiting(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.pop(self, None)

    def _give_up(self, status: bytes) -> None:
        """Close the connection; with a status line if the client has started a request."""
        self._stop_waiting()
        if self.transport.is_closing():
            return
        if self._header_bytes:
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
            )
        self.transport.close()
        # Uncounted at once: uvicorn's cap counts connections, and `connection_lost` (which
        # also does this) may come after a waiting request's headers.
        self.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        waiting = self._timer is not None
        if waiting:
            self._header_bytes += len(data)
        before = self.cycle
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not before:
            self._stop_waiting()  # the headers are in; the body has its own deadline
        elif waiting and self._header_bytes > self.max_header_bytes:
            # h11 stops at max_header_bytes itself; httptools would keep reading.
            self._give_up(b"431 Request Header Fields Too Large")

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._await_headers()  # idle, or the next request's headers on their way

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)  # type: ignore[misc]


def guarded_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """uvicorn's fastest HTTP/1.1 protocol with the header guard, set from `settings`."""
    return type(
        "GuardedHttpProtocol",
        (_HeaderGuard, FastestProtocol),
        {
            "header_timeout": settings.header_timeout_seconds,
            "max_header_bytes": settings.max_header_bytes,
            "_waiting": {},
        },
    )


def server_config(app: object, settings: Settings, **overrides: object) -> uvicorn.Config:
    """The one uvicorn configuration, for `nurture serve` and the tests' servers alike."""
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "http": guarded_protocol(settings),
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # Who the client is comes from NURTURE_TRUSTED_PROXIES alone (api/deps.py); uvicorn's
        # own X-Forwarded-For handling would trust any process on this machine.
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,  # our own access log carries ids and timings, never question text
        "lifespan": "on",
        **overrides,
    }
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]
