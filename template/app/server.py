"""How uvicorn speaks HTTP for this service: its httptools protocol, with the two
bounds on a request's head (its request line and headers) that it lacks.

- The head must fit in REQUEST_HEAD_MAX_BYTES, or the caller gets 431 and the
  connection is closed before the app sees anything: without it, one header of
  any size is read into memory whole.
- The head must arrive within REQUEST_HEAD_TIMEOUT_SECONDS of the connection
  opening or of the previous response, or the connection is closed: without it,
  a client that sends nothing, or a byte now and then, holds its connections
  open for as long as it likes.

The image and the README serve the app with it:

    uvicorn app.main:app --http app.server:BoundedHttpProtocol
"""

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Browsers send a few KiB, cookies and credentials included; nginx and Node.js
# allow 8-16 KiB.
REQUEST_HEAD_MAX_BYTES = 16 * 1024
REQUEST_HEAD_TIMEOUT_SECONDS = 10.0
# How long what a caller sends after its 431 is still read (and dropped).
DISCARD_SECONDS = 2.0

TOO_LARGE_BODY = b"Request header fields too large"
TOO_LARGE = b"".join(
    [
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\n" % len(TOO_LARGE_BODY),
        b"connection: close\r\n\r\n",
        TOO_LARGE_BODY,
    ]
)


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a size and a time limit on each head."""

    head_max_bytes = REQUEST_HEAD_MAX_BYTES
    head_timeout_seconds = REQUEST_HEAD_TIMEOUT_SECONDS

    # Bytes received since the last head ended, outside of bodies: they bound
    # the memory a head that has not ended yet can take.
    head_bytes_received = 0
    # Whether the body of the latest request is still coming.
    body_pending = False
    # Whether a head is awaited after an answer (or a new connection), and since
    # when. One timer per connection, not one per request: when it fires, it
    # closes the connection if the head is overdue, or sets itself again.
    head_awaited = False
    head_awaited_since = 0.0
    head_timer: asyncio.TimerHandle | None = None
    # After a 431: what else comes is dropped unread.
    discarding = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        if not self.body_pending:
            self.head_bytes_received += len(data)
        super().data_received(data)
        if not self.body_pending and self.head_bytes_received > self.head_max_bytes:
            self.refuse_head()

    def on_headers_complete(self) -> None:
        if self.discarding:
            return
        self.head_awaited = False
        self.head_bytes_received = 0
        self.body_pending = True
        if self.head_size() > self.head_max_bytes:
            self.refuse_head()
        else:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.discarding:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.discarding:
            super().on_message_complete()
            self.body_pending = False
            self.await_next_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.await_next_head()

    def await_next_head(self) -> None:
        """Once the request has been read whole and answered, the next head is
        awaited, unless it has come already (pipelining)."""
        if (
            self.cycle.response_complete
            and not self.body_pending
            and not self.transport.is_closing()
        ):
            self.await_head()

    def head_size(self) -> int:
        """The request line's target and headers as parsed, with their separators."""
        return len(self.url) + sum(
            len(name) + len(value) + 4 for name, value in self.headers
        )

    def await_head(self) -> None:
        self.head_awaited = True
        self.head_awaited_since = self.loop.time()
        if self.head_timer is None:
            self.head_timer = self.loop.call_at(
                self.head_awaited_since + self.head_timeout_seconds, self.check_head
            )

    def check_head(self) -> None:
        self.head_timer = None
        if not self.head_awaited:
            return  # a request is being answered; the next answer sets the timer
        deadline = self.head_awaited_since + self.head_timeout_seconds
        if self.loop.time() >= deadline:
            self.transport.close()
        else:
            self.head_timer = self.loop.call_at(deadline, self.check_head)

    def refuse_head(self) -> None:
        """Answer 431, then read and drop what the caller still sends for a
        while, so that it reads the answer before the connection closes."""
        self.head_awaited = False
        self.discarding = True
        self.transport.write(TOO_LARGE)
        if self.transport.can_write_eof():  # not over TLS
            self.transport.write_eof()
        self.loop.call_later(DISCARD_SECONDS, self.transport.close)
