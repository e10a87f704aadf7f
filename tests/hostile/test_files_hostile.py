"""FileOutput against hostile servers and outputs: a stalled download cancelled, malformed data: URLs."""

from __future__ import annotations

import asyncio
import threading
from typing import Callable

import pytest

from replicate_min import Client, ValidationError
from replicate_min._files import FileOutput

from .rawserver import Conn, RawServer, Script


def _stalled(sent: threading.Event, closed: threading.Event) -> Script:
    def script(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 10)
        sent.set()
        conn.wait_for_close()
        closed.set()

    return script


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
def test_cancelling_async_for_over_a_file_output_stops_the_download(
    raw: Callable[[Script], RawServer], how: str
) -> None:
    sent, closed = threading.Event(), threading.Event()
    server = raw(_stalled(sent, closed))
    client = Client(api_token="r8_test", base_url=server.url)
    output = FileOutput(server.url + "/o.bin", client.requester)

    async def consume() -> bytes:
        data = b""
        async for chunk in output:
            data += chunk
        return data

    async def main() -> None:
        if how == "wait_for":
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(consume(), 0.3)  # a lower bound only: the body never ends
            return
        task = asyncio.ensure_future(consume())
        assert await asyncio.to_thread(sent.wait, 20)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert closed.wait(20), "the download went on in the worker"
    client.close()


@pytest.mark.parametrize("url", ["data:image/png;base64,!!!", "data:nocomma", "data:x;base64,abc"])
def test_a_malformed_data_output_url_is_a_validation_error(url: str) -> None:
    client = Client(api_token="r8_test", base_url="http://127.0.0.1:9")
    output = FileOutput(url, client.requester)
    with pytest.raises(ValidationError, match="data URL"):
        output.read()
    with pytest.raises(ValidationError):
        list(output)
    with pytest.raises(ValidationError):
        asyncio.run(output.aread())
