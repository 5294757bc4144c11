"""Errors as JSON with a request id: one shape for every error a client can see.

The HTTP layer's own errors extend the tree in `assistant/errors.py`:

    NurtureError
     └── ApiError
          ├── InvalidRequestError    invalid_request      422
          ├── UnauthorizedError      unauthorized         401
          ├── NotFoundError          not_found            404
          ├── MethodNotAllowedError  method_not_allowed   405
          ├── RequestTimeoutError    request_timeout      408
          ├── TooLargeError          too_large            413
          ├── RateLimitedError       rate_limited         429
          ├── InternalError          internal_error       500
          └── StorageUnavailableError storage_unavailable 503

Every 503 and 429 also tells a carer where urgent help is (999, NHS 111).

Each declares its status and kind; one handler (`NurtureError`) turns any of them into the body.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorDetail, ErrorResponse
from assistant import NurtureError

__all__ = [
    "ApiError",
    "ErrorResponse",
    "InternalError",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "NotFoundError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RETRY_AFTER_SECONDS",
    "SAFETY_LINES",
    "StorageUnavailableError",
    "TooLargeError",
    "UnauthorizedError",
    "error_body",
    "install",
    "log_unexpected",
    "with_safety_lines",
]

logger = logging.getLogger(__name__)
# Every reply that is not an answer (503: the guidance is unavailable; 429: too many requests)
# still tells a carer where urgent help is. The same numbers as assistant/safety_rules.
SAFETY_LINES = (
    "If a child is in danger, not breathing or seriously hurt, call 999 now.",
    "For an urgent health worry that is not an emergency, call NHS 111.",
)
RETRY_AFTER_SECONDS = 30


def with_safety_lines(message: str) -> str:
    return " ".join((message, *SAFETY_LINES))


# A Starlette HTTPException whose status none of our errors declares (a client can't cause one
# today); the page uses the same kind for a reply that is not our JSON at all.
HTTP_ERROR_KIND = "http_error"


class ApiError(NurtureError):
    """An error of the HTTP layer: what went wrong and what to do, the request fields at fault,
    and any headers the reply needs (Retry-After, WWW-Authenticate)."""

    def __init__(
        self,
        message: str,
        *,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        self.headers = headers or {}


class InvalidRequestError(ApiError):
    status_code = 422
    kind = "invalid_request"


class UnauthorizedError(ApiError):
    status_code = 401
    kind = "unauthorized"


class ForbiddenError(ApiError):
    status_code = 403
    kind = "forbidden"


class NotFoundError(ApiError):
    status_code = 404
    kind = "not_found"


class MethodNotAllowedError(ApiError):
    status_code = 405
    kind = "method_not_allowed"


class RequestTimeoutError(ApiError):
    status_code = 408
    kind = "request_timeout"


class TooLargeError(ApiError):
    status_code = 413
    kind = "too_large"


class RateLimitedError(ApiError):
    status_code = 429
    kind = "rate_limited"


class InternalError(ApiError):
    status_code = 500
    kind = "internal_error"


class StorageUnavailableError(ApiError):
    status_code = 503
    kind = "storage_unavailable"


_KIND_BY_STATUS = {
    error.status_code: error.kind
    for error in (NotFoundError, MethodNotAllowedError, RequestTimeoutError, TooLargeError)
}


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or "-"


def error_body(
    kind: str, message: str, request_id: str, fields: list[str] | None = None
) -> ErrorResponse:
    return ErrorResponse(
        error=ErrorDetail(type=kind, message=message, request_id=request_id, fields=fields or [])
    )


def error_response(
    request: Request,
    status: int,
    kind: str,
    message: str,
    fields: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(kind, message, request_id(request), fields)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class _Throttle:
    """Allows one full traceback per error type and route a minute; counts the rest."""

    def __init__(self, every_seconds: float = 60.0, max_keys: int = 1000) -> None:
        self.every = every_seconds
        self.max_keys = max_keys
        self._last: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def allow(self, key: tuple[str, str]) -> int | None:
        """None to stay quiet, else how many were suppressed since the last traceback."""
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._last.get(key, (-self.every, 0))
            if now - last < self.every:
                self._last[key] = (last, suppressed + 1)
                return None
            if len(self._last) >= self.max_keys:
                self._last.clear()
            self._last[key] = (now, 0)
            return suppressed


_tracebacks = _Throttle()


def log_unexpected(error: BaseException, route: str, request_id: str) -> None:
    """A bug's traceback, at most once a minute per error type and route, so a client that can
    trigger one cannot flood the logs. Never the request body (it may hold a carer's words)."""
    suppressed = _tracebacks.allow((type(error).__name__, route))
    if suppressed is None:
        logger.warning("unhandled %s on %s (request %s)", type(error).__name__, route, request_id)
        return
    more = f"; {suppressed} more since the last traceback" if suppressed else ""
    logger.error(
        "unhandled %s on %s (request %s%s)",
        type(error).__name__,
        route,
        request_id,
        more,
        exc_info=error,
    )


def _field(location: tuple) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(NurtureError)
    async def nurture_error(request: Request, error: NurtureError) -> JSONResponse:
        fields, headers = (error.fields, error.headers) if isinstance(error, ApiError) else ([], {})
        message = str(error)
        if error.status_code in (429, 503):
            message = with_safety_lines(message.rstrip(". ") + ".")
        if error.status_code == 503:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **headers}
        return error_response(request, error.status_code, error.kind, message, fields, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        fields = sorted({_field(tuple(problem["loc"])) for problem in problems})
        first = problems[0] if problems else {"msg": "invalid request"}
        where = _field(tuple(first.get("loc", ()))) if problems else "body"
        message = f"{where}: {first['msg']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more)"
        return error_response(request, 422, InvalidRequestError.kind, message, fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(
            request,
            error.status_code,
            _KIND_BY_STATUS.get(error.status_code, HTTP_ERROR_KIND),
            str(error.detail),
            headers=error.headers,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # Errors raised by the app itself are answered in `RequestContext`; this catches a
        # failure in the middleware itself.
        log_unexpected(error, "(middleware)", request_id(request))
        return error_response(
            request, 500, InternalError.kind, "something went wrong on our side; please try again"
        )
