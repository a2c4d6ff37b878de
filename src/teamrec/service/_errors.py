"""Errors as JSON: teamrec's own errors by kind, validation errors by field, and nothing else.

==========================  ======  ===================
error                       status  ``error`` code
==========================  ======  ===================
UnknownIdError              404     ``not_found``
AccessDeniedError           403     ``forbidden``
DataError                   422     ``invalid_data``
ConfigError                 400     ``bad_request``
UnsupportedError            400     ``unsupported``
NotFittedError              503     ``not_ready``
other TeamrecError          400     ``bad_request``
request validation          422     ``validation_error`` (one detail per field, with the
                                    event's index in a batch)
HTTP errors (401, 404 ...)  as is   ``unauthorized``, ``not_found``, ...
anything else               500     ``internal_error``, a generic message; the traceback
                                    goes to the log, never to the client
==========================  ======  ===================
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from teamrec.errors import (
    AccessDeniedError,
    ConfigError,
    DataError,
    NotFittedError,
    TeamrecError,
    UnknownIdError,
    UnsupportedError,
)
from teamrec.service._redact import redact_paths

log = logging.getLogger("teamrec.service")

#: Most specific first.
STATUS: tuple[tuple[type[TeamrecError], int, str], ...] = (
    (UnknownIdError, 404, "not_found"),
    (AccessDeniedError, 403, "forbidden"),
    (DataError, 422, "invalid_data"),
    (ConfigError, 400, "bad_request"),
    (UnsupportedError, 400, "unsupported"),
    (NotFittedError, 503, "not_ready"),
)

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 414: "uri_too_long",
              415: "unsupported_media_type",
              422: "validation_error", 429: "too_many_requests", 503: "not_ready"}


def error_body(code: str, message: str, detail: list | None = None) -> dict:
    body: dict = {"error": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return body


def _teamrec_error(request: Request, exc: Exception) -> JSONResponse:
    message = redact_paths(str(exc))  # a client learns a file's name, never the server's folders
    for kind, status, code in STATUS:
        if isinstance(exc, kind):
            return JSONResponse(error_body(code, message), status_code=status)
    return JSONResponse(error_body("bad_request", message), status_code=400)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    headers = exc.headers
    if exc.status_code == 405:  # every method of every route at this path, not only one route's
        from teamrec.service.guard import allowed_methods

        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request.scope))}
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        full = list(err.get("loc", ()))
        loc = [part for part in full if part not in ("body", "query", "path", "header")]
        # In a batch the field is the one right after the event's index (a union type adds
        # the tried types after it: events.0.timestamp.float).
        index = loc[1] if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int) else None
        if index is not None:
            field = loc[2] if len(loc) > 2 and isinstance(loc[2], str) else None
            shown = loc[:3]
        else:
            field = next((p for p in loc if isinstance(p, str)), None)
            shown = loc
        details.append({"loc": full, "message": err.get("msg", "invalid"), "index": index, "field": field,
                        "_where": _where(shown)})
    first = details[0] if details else {"_where": "", "message": "invalid request"}
    message = f"{first['_where']}: {first['message']}" if first["_where"] else first["message"]
    for detail in details:
        detail.pop("_where")
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return JSONResponse(error_body("validation_error", message, details), status_code=422)


def _where(loc: list) -> str:
    """``["events", 3, "user"]`` -> ``events[3].user``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TeamrecError, _teamrec_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
