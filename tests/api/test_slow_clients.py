"""Slow and stalled clients against the server as `nurture serve` runs it (api/server.py), with
short timeouts: they are cut off, and cannot shut out a normal request. Loopback only."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol

import api.server
from tests.api.conftest import ServerFactory

SLOW_HEADERS = 100
SLOW_BODIES = 20
TIMEOUT = 2.0


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def send(sock: socket.socket, data: bytes) -> None:
    """Send unless the server has already closed the connection (which the tests check)."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


@contextmanager
def connections(url: str, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        opened = []
        for _ in range(count):
            sock = stack.enter_context(connect(url))
            send(sock, first_bytes)
            opened.append(sock)
        yield opened


def closed_by_server(sock: socket.socket, within: float) -> bytes | None:
    """What the server sent before closing, or None if it still holds the connection open."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


@pytest.fixture(params=["httptools", "h11"])
def guarded_url(
    request: pytest.FixtureRequest, make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The server with short timeouts, on uvicorn's fastest parser and on its pure-Python one
    (what runs where httptools is not installed)."""
    if request.param == "h11":
        monkeypatch.setattr(api.server, "FastestProtocol", H11Protocol)
    return make_server(
        header_timeout_seconds=TIMEOUT,
        body_timeout_seconds=TIMEOUT,
        max_connections=64,
        rate_limit_per_minute=100_000,
    ).url


def test_slow_clients_are_cut_off_and_cannot_shut_out_a_normal_request(guarded_url: str) -> None:
    half_headers = b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
    # A chunked body whose first chunk claims 4 GiB and sends 5 bytes.
    huge_chunk = (
        b"POST /v1/ask HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\nffffffff\r\n{"que'
    )
    with (
        connections(guarded_url, SLOW_BODIES, huge_chunk) as slow_bodies,
        connections(guarded_url, SLOW_HEADERS, half_headers) as slow_headers,
    ):
        # 120 stalled connections against a cap of 64: a normal client still gets in, at once.
        started = time.monotonic()
        with httpx.Client(base_url=guarded_url, timeout=10) as http:
            assert http.get("/v1/models").status_code == 200
            answer = http.post("/v1/ask", json={"question": "how do i settle a crying baby"})
            assert answer.status_code == 200
        assert time.monotonic() - started < TIMEOUT
        # Every stalled connection is closed by the server soon after the timeout.
        for sock in slow_bodies:
            reply = closed_by_server(sock, within=TIMEOUT + 3)
            assert reply is not None and reply.startswith(b"HTTP/1.1 408"), reply
            assert b'"type":"request_timeout"' in reply
        for sock in slow_headers:
            reply = closed_by_server(sock, within=TIMEOUT + 3)
            assert reply is not None, "a connection that never finished its headers stayed open"
            assert reply == b"" or reply.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")), reply


def test_a_request_body_sent_too_slowly_gets_408(guarded_url: str) -> None:
    body = b'{"question": "how do i settle a crying baby"}'
    head = (
        b"POST /v1/ask HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(guarded_url) as sock:
        sock.sendall(head)
        started = time.monotonic()
        for byte in body[:6]:  # a byte every 0.3 s: never idle long, never finished in time
            send(sock, bytes([byte]))
            time.sleep(0.3)
        reply = closed_by_server(sock, within=TIMEOUT + 3)
    assert reply is not None and reply.startswith(b"HTTP/1.1 408"), reply
    assert b"connection: close" in reply.lower()
    assert time.monotonic() - started < TIMEOUT + 2


def test_headers_past_the_limit_get_431(make_server: ServerFactory) -> None:
    url = make_server(max_header_bytes=4096).url
    with connect(url) as sock:
        send(sock, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        for n in range(100):
            send(sock, f"X-Filler-{n}: {'a' * 100}\r\n".encode())
        reply = closed_by_server(sock, within=5)
    assert reply is not None and reply.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")), reply
    with httpx.Client(base_url=url) as http:
        assert http.get("/healthz").status_code == 200
