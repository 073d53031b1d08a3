"""ASGI middleware every request and response goes through."""

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar

from fastapi import HTTPException, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    # Browsers must not guess a JSON body into something they would run...
    (b"x-content-type-options", b"nosniff"),
    # ...nor frame the docs pages in another site...
    (b"x-frame-options", b"DENY"),
    # ...nor tell another site which URL of the API linked to it.
    (b"referrer-policy", b"no-referrer"),
]
TOO_LARGE = "Content Too Large"
REQUEST_ID_HEADER = "X-Request-ID"
# ASGI names headers in lower-case bytes.
REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()
# A caller's request id is kept when it cannot forge or break a log line:
# letters, digits and a little punctuation, as UUIDs and trace ids have.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# The id of the request being served, for log lines and error answers.
request_id: ContextVar[str] = ContextVar("request_id", default="-")
access_logger = logging.getLogger("app.access")


class ResponseHeaders:
    """Gives every HTTP request an id: the caller's X-Request-ID when it is a
    sane value, a new UUID otherwise. Every response carries it back, with
    SECURITY_HEADERS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        value = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        # Each request runs in a task of its own, with its own copy of this.
        request_id.set(value)
        headers = [(REQUEST_ID_KEY, value.encode()), *SECURITY_HEADERS]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """One line per request once it is answered: method, path, status and
    duration (a request that raised counts as the 500 it gets)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A level above INFO logs no access line: nothing to note or build.
        if scope["type"] != "http" or not access_logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR

        async def send_noting_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            method, path = scope["method"], scope["path"]
            access_logger.info(
                "%s %s %d %.1f ms",
                method,
                path,
                status_code,
                duration_ms,
                extra={
                    "method": method,
                    "path": path,
                    "status": status_code,
                    "duration_ms": duration_ms,
                },
            )


class BodySizeLimit:
    """413 for a request body over `max_body_size` bytes, before it is parsed.

    A body that declares its size (Content-Length) is refused before any of it
    is read; one sent without (chunked), as soon as what was read passes the
    limit. FastAPI's own `max_body_size` does the same, but answers the first
    case in plain text instead of the API's JSON.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        # More than 18 digits is more than any limit (and int() of thousands
        # of digits would raise).
        if (
            declared.isascii()
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > self.max_body_size)
        ):
            await send_content_too_large(send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    # FastAPI passes an HTTPException raised while it reads
                    # the body on to the exception handlers, as a 413.
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, TOO_LARGE)
            return message

        await self.app(scope, receive_within_limit, send)


async def send_content_too_large(send: Send) -> None:
    body = json.dumps({"detail": TOO_LARGE}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status.HTTP_413_CONTENT_TOO_LARGE,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
