"""Error answers FastAPI would give otherwise: cut to size, documented, and
telling the truth."""

import math
import re
from itertools import islice
from typing import Any, cast

from fastapi import Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.core.middleware import REQUEST_ID_HEADER, SECURITY_HEADERS, request_id
from app.schemas import LONE_SURROGATE
from app.services.exceptions import EmailTakenError

# A body with thousands of bad fields gets the first few problems, not a
# response larger than the request.
MAX_ERRORS = 10
# How much of a bad input, a field name or a message a 422 repeats.
MAX_ECHO = 100
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own 422, cut to size, with nothing of a password in it.

    Each problem keeps FastAPI's `type`, `loc` and `msg`, and `input` when it
    is a single value: texts are cut to MAX_ECHO characters, and a whole
    object or list (which may hold a password beside the bad field) is left
    out, as is any input to a password field.
    """
    errors = cast(RequestValidationError, error).errors()
    detail = [_shown(problem) for problem in islice(errors, MAX_ERRORS)]
    return JSONResponse(
        {"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def _shown(problem: Any) -> dict[str, Any]:
    location = [_scalar(part) for part in problem.get("loc", ())]
    shown: dict[str, Any] = {
        "type": problem["type"],
        "loc": location,
        "msg": _scalar(problem["msg"]),
    }
    secret = any("password" in str(part) for part in location)
    value = problem.get("input")
    if not secret and not isinstance(value, dict | list | tuple):
        shown["input"] = _scalar(value)
    if problem.get("ctx"):
        shown["ctx"] = {key: _scalar(value) for key, value in problem["ctx"].items()}
    return shown


def _scalar(value: Any) -> str | int | float | bool | None:
    """One value as strict JSON can hold it, texts cut to MAX_ECHO characters.

    Python's JSON parser accepts NaN and Infinity, and "\\ud800" escapes that
    decode to lone surrogates; neither can be written back as strict UTF-8
    JSON, and the 422 would become a 500.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**MAX_ECHO else "(an integer too long to show)"
    text = str(value)[:MAX_ECHO]
    return LONE_SURROGATE.sub("\ufffd", text)


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """The 500 of an unexpected error, in the API's JSON and naming its request.

    Starlette sends it from outside every middleware (the traceback goes to
    the server's log), so it carries the request id and headers itself.
    """
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    headers[REQUEST_ID_HEADER] = request_id.get()
    return JSONResponse(
        {"detail": "Internal Server Error"},
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        headers=headers,
    )


# Errors of the services that mean one status whichever route they come from.
SERVICE_ERRORS: dict[type[Exception], int] = {
    EmailTakenError: status.HTTP_409_CONFLICT,
}


async def service_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=SERVICE_ERRORS[type(error)])


async def http_error(request: Request, error: Exception) -> Response:
    """FastAPI's answer to an HTTPException, with two corrections.

    A JSON body that cannot even be parsed (not UTF-8, nested deeper than
    Python recurses, an integer of thousands of digits) gets a 422 like any
    malformed JSON, not a 400 the API does not document. And a 405 lists in
    `Allow` every method the path takes, not only those of the first route
    that matched it (see `documented_methods`).
    """
    assert isinstance(error, HTTPException)
    cause = error.__cause__
    if error.status_code == status.HTTP_400_BAD_REQUEST and cause is not None:
        if isinstance(cause, UnicodeDecodeError):
            position, reason = cause.start, "the body is not UTF-8 text"
        else:
            position, reason = 0, str(cause)
        invalid = RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", position),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": reason},
                }
            ]
        )
        return await invalid_request(request, invalid)
    if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        allow = documented_methods(request)
        if allow:
            error = HTTPException(error.status_code, error.detail, {"Allow": allow})
    return await http_exception_handler(request, error)


def documented_methods(request: Request) -> str | None:
    """The methods the OpenAPI document gives this request's path, a concrete
    path (`/users/me`) before a template that matches it (`/users/{user_id}`),
    as OpenAPI resolves them."""
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    matches = []
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods = sorted(name.upper() for name in HTTP_METHODS & operations.keys())
            matches.append((template.count("{"), ", ".join(methods)))
    return min(matches)[1] if matches else None
