"""The HTTP protocol the image serves the app with (app.server), over a real
socket: a request head over the size limit gets 431 before any app sees it, and
a connection that sends no whole head in time is closed."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from app.server import REQUEST_HEAD_MAX_BYTES, BoundedHttpProtocol

HEAD_TIMEOUT = 0.2


class QuickProtocol(BoundedHttpProtocol):
    head_timeout_seconds = HEAD_TIMEOUT


class Served:
    """A uvicorn server on a free port, and the paths its app was asked for."""

    def __init__(self) -> None:
        self.port = 0
        self.paths: list[str] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.paths.append(scope["path"])
        # "/early" answers before reading the body, as a 413 for a declared
        # length over the limit does.
        while scope["path"] != "/early" and (await receive()).get("more_body"):
            pass
        if scope["path"] == "/slow":
            await asyncio.sleep(2 * HEAD_TIMEOUT)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def exchange(self, request: bytes) -> bytes:
        """Send `request`, then read until the server closes the connection."""
        reader, writer = await self.connect()
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
        return answer


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """The protocol served as uvicorn serves it, without uvicorn's main loop
    (whose shutdown would take a tenth of a second per test)."""
    served = Served()
    config = uvicorn.Config(
        served.app, interface="asgi3", lifespan="off", log_config=None
    )
    config.load()
    state = ServerState()
    server = await asyncio.get_running_loop().create_server(
        lambda: QuickProtocol(config=config, server_state=state, app_state={}),
        host="127.0.0.1",
        port=0,
    )
    served.port = server.sockets[0].getsockname()[1]
    yield served
    server.close()
    for connection in list(state.connections):
        connection.shutdown()
    await server.wait_closed()


def request(*headers: bytes, body: bytes = b"") -> bytes:
    head = [b"POST / HTTP/1.1", b"host: test", b"connection: close", *headers]
    head.append(b"content-length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def test_a_head_within_the_limit_is_served_whatever_the_body(
    served: Served,
) -> None:
    header = b"x-large: " + b"a" * (REQUEST_HEAD_MAX_BYTES - 200)
    answer = await served.exchange(request(header, body=b"b" * 4_000_000))
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert served.paths == ["/"]


async def test_a_body_still_coming_after_the_answer_is_no_head(
    served: Served,
) -> None:
    reader, writer = await served.connect()
    writer.write(
        b"POST /early HTTP/1.1\r\nhost: test\r\ncontent-length: 1000000\r\n\r\n"
    )
    await writer.drain()
    assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
    writer.write(b"b" * 1_000_000 + b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
    await writer.drain()
    assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
    assert served.paths == ["/early", "/"]
    writer.close()


async def test_a_head_over_the_limit_gets_431_before_the_app(served: Served) -> None:
    for size in (REQUEST_HEAD_MAX_BYTES + 1, 1024 * 1024):
        answer = await served.exchange(request(b"authorization: " + b"a" * size))
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert served.paths == []


async def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    reader, writer = await served.connect()
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), timeout=10) == b""
    assert time.monotonic() - started >= HEAD_TIMEOUT * 0.9
    writer.close()


async def test_a_head_sent_a_byte_at_a_time_is_cut_off(served: Served) -> None:
    reader, writer = await served.connect()
    started = time.monotonic()
    # Sent whole, this head would take about 14 head timeouts.
    try:
        for byte in request():
            if reader.at_eof():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(HEAD_TIMEOUT / 5)
    except ConnectionError:
        pass
    assert time.monotonic() - started < HEAD_TIMEOUT * 7
    assert served.paths == []
    writer.close()


async def test_after_an_answer_the_next_head_has_its_deadline(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
    await writer.drain()
    assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
    answered = time.monotonic()
    assert await asyncio.wait_for(reader.read(), timeout=10) == b""
    assert HEAD_TIMEOUT * 0.9 <= time.monotonic() - answered < HEAD_TIMEOUT * 5
    writer.close()


async def test_a_slow_answer_has_no_deadline(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
    await writer.drain()
    # The app takes two head timeouts to answer: the connection waits for it.
    assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
    writer.close()
