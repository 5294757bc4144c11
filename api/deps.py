"""Dependencies for routes: the one Assistant, storage, settings, metrics, and the guards.

They are `async` because none of them blocks: FastAPI runs a plain `def` dependency in the
thread pool, a hop per dependency per request that costs real time under load."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated

from fastapi import Depends, Request

from api.conversations import Conversations
from api.errors import ForbiddenError, NotFoundError, RateLimitedError, UnauthorizedError
from api.metrics import Metrics
from api.storage import Storage
from assistant import Assistant, Settings


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


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`, normalised: the scheme in any case, any
    spaces around; "" when there is none."""
    parts = request.headers.get("authorization", "").split(None, 1)
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1].strip()
    return ""


def _is_trusted(address: str, trusted: list[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(request: Request, trusted: list[IPv4Network | IPv6Network]) -> str:
    """The client's address: the connecting peer, unless that is one of our trusted proxies
    (NURTURE_TRUSTED_PROXIES); then the nearest X-Forwarded-For entry that is not a trusted
    proxy (entries further left were written by the client and prove nothing)."""
    peer = request.client.host if request.client else "unknown"
    if not _is_trusted(peer, trusted):
        return peer
    forwarded = [
        entry.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for entry in header.split(",")
        if entry.strip()
    ]
    for entry in reversed(forwarded):
        if not _is_trusted(entry, trusted):
            return entry[:64]
    return forwarded[0] if forwarded else peer


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


async def require_api_key(request: Request, settings: SettingsDep) -> None:
    """When NURTURE_API_KEYS is set, one of the keys. Failures are counted per client address:
    beyond NURTURE_AUTH_FAILURES_PER_MINUTE, every attempt gets 429 until the count refills."""
    keys = settings.api_key_list
    if not keys:
        return
    failures, address = _failures_for(request, settings)
    if not _matches(bearer_token(request).encode(), keys):
        failures.check(address)
        raise UnauthorizedError(
            "this API needs a key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_metrics_key(request: Request, settings: SettingsDep) -> None:
    """`/metrics` (traffic, safety and abstention counts) needs an API key whenever keys are
    set; `/healthz` and `/readyz` stay open for load balancers' probes."""
    if request.scope["route"].path == "/metrics":
        await require_api_key(request, settings)


def _failures_for(request: Request, settings: Settings) -> tuple[RateLimiter, str]:
    """The wrong-key counter and this client's address; 429 while the address is throttled."""
    failures: RateLimiter = request.app.state.auth_failures
    address = client_address(request, settings.trusted_proxy_networks)
    wait = failures.waiting(address)
    if wait is not None:
        raise RateLimitedError(
            "too many attempts with a wrong key from this address; wait and try again",
            headers=_retry_after(wait),
        )
    return failures, address


def _matches(supplied: bytes, keys: list[str]) -> bool:
    matched = False
    for key in keys:  # every key, in constant time
        matched |= hmac.compare_digest(supplied, key.encode())
    return matched


async def require_trainer_key(request: Request, settings: SettingsDep) -> None:
    """The trainers' workspace: off (404) unless NURTURE_TRAINER_KEYS is set; then a trainer
    key (401 without one; 403 for a carer's API key, which never opens it). Failures count
    towards the same per-address limit as wrong API keys."""
    keys = settings.trainer_key_list
    if not keys:
        raise NotFoundError("the trainers' workspace is off: set NURTURE_TRAINER_KEYS to use it")
    failures, address = _failures_for(request, settings)
    supplied = bearer_token(request).encode()
    if _matches(supplied, keys):
        return
    failures.check(address)
    if supplied and _matches(supplied, settings.api_key_list):
        raise ForbiddenError("this is a carer's API key; the workspace needs a trainer key")
    raise UnauthorizedError(
        "the trainers' workspace needs a trainer key: send 'Authorization: Bearer <key>'",
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

    def _take(self, client: str, cost: float) -> float | None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - cost, now)
                wait = None
            else:
                self._buckets[client] = (tokens, now)
                wait = (1 - tokens) / self.rate
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def check(self, client: str) -> float | None:
        """Take one: None if allowed, else the seconds to wait."""
        return self._take(client, 1.0)

    def waiting(self, client: str) -> float | None:
        """The seconds to wait before `client` may go again, None if it may now; takes none."""
        return self._take(client, 0.0)


async def rate_limit(request: Request, settings: SettingsDep) -> None:
    """Per API key when keys are set (the key, however its header is written), else per client
    address: never per anything else a client can vary at will."""
    token = bearer_token(request) if settings.api_key_list else ""
    if token:
        client = "key:" + hashlib.sha256(token.encode()).hexdigest()
    else:
        client = "address:" + client_address(request, settings.trusted_proxy_networks)
    wait = request.app.state.rate_limiter.check(client)
    if wait is not None:
        raise RateLimitedError(
            "too many requests from this client; wait and try again", headers=_retry_after(wait)
        )


ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
