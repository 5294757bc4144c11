"""ASGI middleware: request ids, access logs without question text, metrics, body limits, and
the one place where an unexpected error becomes a 500."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import (
    ApiError,
    InternalError,
    RequestTimeoutError,
    TooLargeError,
    error_body,
    log_unexpected,
)
from api.metrics import Metrics

logger = logging.getLogger("api.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext:
    """Gives each request an id, limits the body's size and the time it may take to arrive,
    answers unexpected errors with a 500 (logging their tracebacks sparingly), and records
    metrics and an access log.

    The body limits are enforced before anything parses the body: the size from Content-Length
    when it is sent and by counting bytes as they arrive; the time from when the app is called
    to the body's last byte (a slow or stalled body, or a chunk that claims to be huge and never
    comes, gets 408 and the connection is closed)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        body_timeout_seconds: float,
        route_of: Callable[[Scope], str],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout_seconds
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # HTTP header bytes are latin-1 (RFC 9110): any byte decodes, none can fail a request.
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        refused: ApiError | None = None
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            refused = TooLargeError(f"request body is over {self.max_body_bytes} bytes")
        else:
            received = 0
            body_done = False
            deadline = time.monotonic() + self.body_timeout

            async def guarded_receive() -> Message:
                nonlocal received, body_done, refused
                if refused is not None:
                    return {"type": "http.disconnect"}
                if body_done:
                    return await receive()  # e.g. a streaming reply listening for disconnect
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        message = await receive()
                except TimeoutError:
                    # Stop waiting; the app sees a disconnect and its reply is replaced.
                    refused = RequestTimeoutError(
                        f"the request body did not arrive within {self.body_timeout:g} seconds"
                    )
                    return {"type": "http.disconnect"}
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    body_done = not message.get("more_body", False)
                    if received > self.max_body_bytes:
                        refused = TooLargeError(f"request body is over {self.max_body_bytes} bytes")
                        return {"type": "http.disconnect"}
                return message

            async def guarded_send(message: Message) -> None:
                if refused is None:
                    await send_with_id(message)

            try:
                await self.app(scope, guarded_receive, guarded_send)
            except ClientDisconnect:
                pass  # the client went away: nobody to answer
            except Exception as error:  # noqa: BLE001 - the one place a bug becomes a 500
                if refused is None:
                    log_unexpected(error, self.route_of(scope), request_id)
                    if not response_started:
                        refused = InternalError(
                            "something went wrong on our side; please try again"
                        )
                    # else a reply is under way: returning unfinished makes the server drop
                    # the connection, which is all that can be done.
        if refused is not None and not response_started:
            await self._refuse(send_with_id, refused, request_id)
        path = self.route_of(scope)
        seconds = time.perf_counter() - started
        self.metrics.observe_request(scope["method"], path, status, seconds)
        # Ids, route, status and timing only: never the question or any body.
        logger.info(
            "%s %s %s %.1fms id=%s", scope["method"], path, status, seconds * 1000, request_id
        )

    async def _refuse(self, send: Send, error: ApiError, request_id: str) -> None:
        body = error_body(error.kind, error.message, request_id).model_dump_json().encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if not isinstance(error, InternalError):
            # The rest of the body is not read: the connection cannot carry another request.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
