"""Dependencies for routes: the one Assistant, storage, settings, metrics, and the guards.

They are `async` because none of them blocks: FastAPI runs a plain `def` dependency in the
thread pool, a hop per dependency per request that costs real time under load."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request

from api.conversations import Conversations
from api.errors import ApiError, with_safety_lines
from api.metrics import Metrics
from api.storage import Storage
from assistant.config import Settings
from assistant.service import Assistant


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_conversations(request: Request) -> Conversations:
    return request.app.state.conversations


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
StorageDep = Annotated[Storage, Depends(get_storage)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def require_api_key(request: Request, settings: SettingsDep) -> None:
    keys = settings.api_key_list
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    supplied = token.strip().encode() if scheme.lower() == "bearer" else b""
    # Compare with every key, in constant time, so timing reveals neither key nor position.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode())
    if not matched:
        raise ApiError(
            401,
            "unauthorized",
            "this API needs a key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


class RateLimiter:
    """A token bucket per client: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> float | None:
        """None if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                wait = None
            else:
                self._buckets[client] = (tokens, now)
                wait = (1 - tokens) / self.rate
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


async def rate_limit(request: Request) -> None:
    client = request.headers.get("authorization") or (
        request.client.host if request.client else "unknown"
    )
    wait = request.app.state.rate_limiter.check(client)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            with_safety_lines("too many requests from this client; wait and try again."),
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
