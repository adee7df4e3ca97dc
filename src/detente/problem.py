"""RFC 9457 problem details for every Detente HTTP service (log, hub, witness).

Domain errors carry no status codes; this module is the one place that maps them::

    TooLargeError       413    MalformedError      400
    NotFoundError       404    ConflictError       409
    SignatureError      403    VerificationError   422 (QuorumError, RootMismatchError, ...)
    StorageError        503    other DetenteError  500

Request validation failures are 400 and unknown routes 404, all as ``application/problem+json``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from detente.errors import (
    ConflictError,
    DetenteError,
    MalformedError,
    NotFoundError,
    SignatureError,
    StorageError,
    TooLargeError,
    VerificationError,
)

__all__ = ["PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem_response", "status_for"]

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: Most specific class first.
_STATUS: tuple[tuple[type[DetenteError], int, str], ...] = (
    (TooLargeError, 413, "Content Too Large"),
    (MalformedError, 400, "Bad Request"),
    (NotFoundError, 404, "Not Found"),
    (ConflictError, 409, "Conflict"),
    (SignatureError, 403, "Forbidden"),
    (VerificationError, 422, "Unprocessable Content"),
    (StorageError, 503, "Service Unavailable"),
)
_TITLES = {status: title for _, status, title in _STATUS}


def status_for(error: DetenteError) -> tuple[int, str]:
    """The HTTP status and title for a domain error."""
    for cls, status, title in _STATUS:
        if isinstance(error, cls):
            return status, title
    return 500, "Internal Server Error"


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An ``application/problem+json`` response (type ``about:blank``)."""
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _detente_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, DetenteError):  # pragma: no cover - registered for DetenteError
        raise exc
    status, title = status_for(exc)
    return problem_response(status, title, str(exc))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        raise exc
    title = _TITLES.get(exc.status_code, "Error")
    return problem_response(exc.status_code, title, str(exc.detail), dict(exc.headers or {}))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    detail = str(exc.errors()) if isinstance(exc, RequestValidationError) else str(exc)
    return problem_response(400, "Bad Request", detail)


def install_problem_handlers(app: FastAPI) -> None:
    """Make ``app`` answer every DetenteError, HTTP error and bad request as problem+json."""
    app.add_exception_handler(DetenteError, _detente_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
