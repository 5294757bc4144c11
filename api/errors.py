"""Errors as JSON with a request id: one shape for every error a client can see."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorDetail, ErrorResponse
from assistant.errors import NurtureError

__all__ = [
    "RETRY_AFTER_SECONDS",
    "SAFETY_LINES",
    "ApiError",
    "ErrorResponse",
    "install",
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


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.fields = fields or []
        self.headers = headers or {}


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or "-"


def error_response(
    request: Request,
    status: int,
    kind: str,
    message: str,
    fields: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorDetail(
            type=kind, message=message, request_id=request_id(request), fields=fields or []
        )
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field(location: tuple) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(
            request, error.status, error.kind, error.message, error.fields, error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        fields = sorted({_field(tuple(problem["loc"])) for problem in problems})
        first = problems[0] if problems else {"msg": "invalid request"}
        where = _field(tuple(first.get("loc", ()))) if problems else "body"
        message = f"{where}: {first['msg']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more)"
        return error_response(request, 422, "invalid_request", message, fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return error_response(
            request,
            error.status_code,
            kinds.get(error.status_code, "http_error"),
            str(error.detail),
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(NurtureError)
    async def nurture_error(request: Request, error: NurtureError) -> JSONResponse:
        kind = type(error).__name__.removesuffix("Error").lower() or "error"
        if error.status_code == 503:
            # Only triage can serve: say when to retry, and where urgent help is meanwhile.
            return error_response(
                request,
                503,
                kind,
                with_safety_lines(str(error)),
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return error_response(request, error.status_code, kind, str(error))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:  # noqa: ARG001
        logger.exception("unhandled error (request %s)", request_id(request))
        return error_response(
            request, 500, "internal_error", "something went wrong on our side; please try again"
        )
