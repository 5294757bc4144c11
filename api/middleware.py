"""ASGI middleware: request ids, access logs without question text, metrics, body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

logger = logging.getLogger("api.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext:
    """Gives each request an id, limits the body size, and records metrics and an access log.

    The body limit is enforced before anything parses the body: from Content-Length when it is
    sent, and by counting bytes as they arrive when it is not."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        route_of: Callable[[Scope], str],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send_with_id, request_id)
        else:
            received = 0
            too_large = False

            async def counted_receive() -> Message:
                nonlocal received, too_large
                if too_large:
                    return {"type": "http.disconnect"}
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        # Stop reading; the app sees a disconnect and its reply is replaced.
                        too_large = True
                        return {"type": "http.disconnect"}
                return message

            async def guarded_send(message: Message) -> None:
                if not too_large:
                    await send_with_id(message)

            try:
                await self.app(scope, counted_receive, guarded_send)
            except Exception:
                if not too_large:
                    raise
            if too_large:
                await self._too_large(send_with_id, request_id)
        path = self.route_of(scope)
        seconds = time.perf_counter() - started
        self.metrics.observe_request(scope["method"], path, status, seconds)
        # Ids, route, status and timing only: never the question or any body.
        logger.info(
            "%s %s %s %.1fms id=%s", scope["method"], path, status, seconds * 1000, request_id
        )

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "type": "too_large",
                    "message": f"request body is over {self.max_body_bytes} bytes",
                    "request_id": request_id,
                    "fields": [],
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
