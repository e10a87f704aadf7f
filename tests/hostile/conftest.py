from __future__ import annotations

from typing import Callable, Iterator, List

import pytest

from tests.hostile.rawserver import RawServer, Script


@pytest.fixture
def raw() -> Iterator[Callable[[Script], RawServer]]:
    """A factory of raw servers, all closed at teardown."""
    servers: List[RawServer] = []

    def start(script: Script) -> RawServer:
        server = RawServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
