"""The 422 answer to a request that fails validation, whatever it held."""

import math
from typing import Any, cast

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.schemas import LONE_SURROGATE


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own 422, with every echoed input made writable as JSON.

    FastAPI echoes each bad input back. Python's JSON parser accepts NaN and
    Infinity, and "\\ud800" escapes that decode to lone surrogates; neither can
    be written back as strict UTF-8 JSON, and the 422 would become a 500.
    """
    errors = cast(RequestValidationError, error).errors()
    detail = _writable(jsonable_encoder(errors))
    return JSONResponse(
        {"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def _writable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_writable(element) for element in value]
    if isinstance(value, dict):
        return {_writable(key): _writable(element) for key, element in value.items()}
    return value
