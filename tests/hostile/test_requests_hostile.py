"""Hostile arguments: tokens, headers, ids, inputs and file names that must never reach the wire as given.

Every case asserts that nothing was sent (the raw server recorded no request) or that
what was sent cannot be read as anything but what the caller meant.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from replicate_min import Client, ReplicateException
from tests.hostile.rawserver import RawServer, Request, Script, prediction, response, serve_each

RawFactory = Callable[[Script], RawServer]
TOKEN_PARTS = ("r8_SE", "CRET", "SECRET")


def _ok(request: Request) -> bytes:
    """A prediction named after the requested path's last segment; a file for uploads."""
    if request.path.startswith("/v1/files"):
        return response(201, {"id": "f1", "urls": {"get": "https://api.replicate.com/v1/files/f1"}})
    if request.method == "POST":
        return response(201, prediction("p1"))
    return response(200, prediction(request.path.rsplit("/", 1)[-1]))


def _client(server: RawServer, **options: Any) -> Client:
    options.setdefault("api_token", "r8_token")
    return Client(base_url=server.url, retry_backoff=0.01, timeout=5, **options)


def _leaks(text: str) -> bool:
    return any(part in text for part in TOKEN_PARTS)


# -- cause 1: a token with CR/LF inside ----------------------------------------------------------


@pytest.mark.parametrize("token", ["r8_SE\nCRET", "r8_SE\rCRET", "r8_SE\r\nCRET"])
def test_token_with_inner_line_break_as_argument_is_refused_before_sending(
    raw: RawFactory, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    server = raw(serve_each(_ok))
    caplog.set_level(logging.DEBUG, logger="replicate_min")
    with pytest.raises(ValueError) as info:
        client = _client(server, api_token=token)
        client.predictions.get("abc")
    assert not _leaks(str(info.value)), str(info.value)
    assert not _leaks(repr(info.value.args))
    assert server.requests == []
    assert not any(_leaks(record.getMessage()) for record in caplog.records)


@pytest.mark.parametrize("token", ["r8_SE\nCRET", "r8_SE\rCRET"])
def test_token_with_inner_line_break_from_environment_is_refused_and_never_retried(
    raw: RawFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    server = raw(serve_each(_ok))
    monkeypatch.setenv("REPLICATE_API_TOKEN", token)
    caplog.set_level(logging.DEBUG, logger="replicate_min")
    client = Client(base_url=server.url, retry_backoff=0.01, timeout=5)
    for _ in range(2):  # and a second call is refused the same way: nothing cached, nothing retried
        with pytest.raises(ValueError) as info:
            client.predictions.get("abc")
        assert not _leaks(str(info.value)), str(info.value)
    assert server.requests == [] and server.connections == 0
    assert not any(_leaks(record.getMessage()) for record in caplog.records)


@pytest.mark.parametrize("token", ["r8_SECRET\n", "  r8_SECRET\r\n"])
def test_token_with_surrounding_whitespace_is_stripped_and_works(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    server = raw(serve_each(_ok))
    assert _client(server, api_token=token).predictions.get("abc").id == "abc"
    monkeypatch.setenv("REPLICATE_API_TOKEN", token)
    assert Client(base_url=server.url, timeout=5).predictions.get("abd").id == "abd"
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer r8_SECRET"] * 2


# -- cause 13: bad arguments get past validation -------------------------------------------------


BAD_CREATES: Dict[str, Callable[[Client], Any]] = {
    "cancel_after_unicode_digits": lambda c: c.predictions.create(version="v", input={}, cancel_after="\u0666\u0660"),
    "cancel_after_fullwidth_digits": lambda c: c.predictions.create(
        version="v", input={}, cancel_after="\uff16\uff10s"
    ),
    "circular_input": lambda c: c.predictions.create(version="v", input=_circular()),
    "circular_list_input": lambda c: c.predictions.create(version="v", input={"a": _circular_list()}),
    "run_timeout_nan": lambda c: c.run("owner/name", {}, timeout=float("nan")),
    "run_timeout_inf": lambda c: c.run("owner/name", {}, timeout=float("inf")),
    "webhook_with_crlf": lambda c: c.predictions.create(version="v", input={}, webhook="https://x/\r\nX: y"),
    "nan_in_input": lambda c: c.predictions.create(version="v", input={"x": float("nan")}),
}


def _circular() -> Dict[str, Any]:
    d: Dict[str, Any] = {}
    d["d"] = d
    return d


def _circular_list() -> list:
    items: list = []
    items.append(items)
    return items


@pytest.mark.parametrize("name", sorted(BAD_CREATES))
def test_bad_call_arguments_are_refused_before_sending(raw: RawFactory, name: str) -> None:
    server = raw(serve_each(_ok))
    with pytest.raises((ValueError, TypeError)):
        BAD_CREATES[name](_client(server))
    assert server.requests == []


BAD_SETTINGS: Dict[str, Dict[str, Any]] = {
    "user_agent_crlf": {"user_agent": "ua\r\nX-Injected: 1"},
    "user_agent_lf": {"user_agent": "ua\nX-Injected: 1"},
    "header_value_crlf": {"headers": {"X": "a\r\nb"}},
    "header_value_nul": {"headers": {"X": "a\0b"}},
    "header_name_crlf": {"headers": {"X\r\nY": "a"}},
    "connect_timeout_inf": {"connect_timeout": float("inf")},
    "timeout_nan": {"timeout": float("nan")},
    "timeout_negative": {"timeout": -1},
    "poll_interval_nan": {"poll_interval": float("nan")},
}


@pytest.mark.parametrize("name", sorted(BAD_SETTINGS))
def test_bad_client_settings_are_refused_before_sending(raw: RawFactory, name: str) -> None:
    server = raw(serve_each(_ok))
    with pytest.raises((ValueError, TypeError)):
        _client(server, **BAD_SETTINGS[name]).predictions.get("abc")
    assert server.requests == []


def test_wait_with_nan_timeout_is_refused(raw: RawFactory) -> None:
    server = raw(serve_each(_ok))
    client = _client(server)
    p = client.predictions.get("abc")
    with pytest.raises((ValueError, TypeError)):
        p.wait(timeout=float("nan"))
    assert len(server.requests) == 1  # the get above, nothing more


# -- cause 14: dot-segment ids -------------------------------------------------------------------


DOT_CALLS: Dict[str, Callable[[Client], Any]] = {
    "get_dotdot": lambda c: c.predictions.get(".."),
    "get_dot": lambda c: c.predictions.get("."),
    "cancel_dot": lambda c: c.predictions.cancel("."),
    "cancel_dotdot": lambda c: c.predictions.cancel(".."),
    "files_delete_dot": lambda c: c.files.delete("."),
    "files_get_dotdot": lambda c: c.files.get(".."),
    "get_encoded_dotdot": lambda c: c.predictions.get("%2e%2e"),
    "get_slash_dotdot": lambda c: c.predictions.get("../models"),
}


@pytest.mark.parametrize("name", sorted(DOT_CALLS))
def test_dot_segment_ids_never_reach_another_path(raw: RawFactory, name: str) -> None:
    server = raw(serve_each(_ok))
    try:
        DOT_CALLS[name](_client(server))
    except (ValueError, ReplicateException):
        pass
    for request in server.requests:
        segments = request.path.split("?")[0].split("/")
        lowered = [s.lower() for s in segments]
        assert "." not in segments and ".." not in segments, request.path
        assert "%2e%2e" not in lowered and "%2e" not in lowered, request.path  # a normalising proxy decodes these
        assert request.path.startswith(("/v1/predictions/", "/v1/files/")), request.path
        assert request.path.count("/") == (4 if request.path.endswith("/cancel") else 3), request.path


# -- cause 5: multipart header injection ---------------------------------------------------------


def _upload_parts(server: RawServer) -> list[bytes]:
    uploads = [r for r in server.requests if r.path.startswith("/v1/files")]
    assert len(uploads) == 1
    content_type = uploads[0].headers["content-type"]
    boundary = content_type.split("boundary=", 1)[1].encode()
    return uploads[0].body.split(b"--" + boundary)


def _part_headers(part: bytes) -> list[bytes]:
    head = part.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if line]


def _assert_no_injected_part_headers(server: RawServer) -> None:
    parts = [p for p in _upload_parts(server) if p.strip(b"-\r\n")]
    names = []
    for part in parts:
        for line in _part_headers(part):
            name = line.split(b":", 1)[0].strip().lower()
            names.append(name)
            assert b"\n" not in line and b"\r" not in line
    assert b"x-injected" not in names, names
    assert sorted(set(names)) <= [b"content-disposition", b"content-type"], names
    assert len(parts) == 2, parts  # content and metadata: no part smuggled in


@pytest.mark.parametrize(
    "filename",
    [
        'a.txt"\r\nX-Injected: 1\r\n\r\nbody',
        "a.txt\nX-Injected: 1",
        "a.txt\rX-Injected: 1",
        'a"; name="metadata',
    ],
)
def test_upload_filename_cannot_inject_part_headers(raw: RawFactory, filename: str) -> None:
    server = raw(serve_each(_ok))
    try:
        _client(server).files.create(b"data", filename=filename)
    except ValueError:
        assert server.requests == []
        return
    _assert_no_injected_part_headers(server)
    disposition = _part_headers(_upload_parts(server)[1])[0]
    assert disposition.count(b' name="') == 1, disposition  # no second name= smuggled in


@pytest.mark.parametrize("content_type", ["text/plain\r\nX-Injected: 1", "text/plain\nX-Injected: 1", "text/plain\r"])
def test_upload_content_type_cannot_inject_part_headers(raw: RawFactory, content_type: str) -> None:
    server = raw(serve_each(_ok))
    try:
        _client(server).files.create(b"data", filename="a.txt", content_type=content_type)
    except ValueError:
        assert server.requests == []
        return
    _assert_no_injected_part_headers(server)


@pytest.mark.skipif(sys.platform == "win32", reason="file names with line breaks")
def test_input_file_named_with_line_breaks_cannot_inject_part_headers(raw: RawFactory, tmp_path: Path) -> None:
    path = tmp_path / 'evil"\r\nX-Injected: 1\r\n.png'
    path.write_bytes(b"\x89PNG data")
    server = raw(serve_each(_ok))
    _client(server).predictions.create(version="v", input={"image": path}, file_encoding_strategy="url")
    _assert_no_injected_part_headers(server)
    creates = [r for r in server.requests if r.path == "/v1/predictions"]
    assert len(creates) == 1 and b"https://api.replicate.com/v1/files/f1" in creates[0].body


# -- cause 11 (inputs): devices and FIFOs are refused quickly -------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_as_input_is_refused(raw: RawFactory) -> None:
    server = raw(serve_each(_ok))
    with pytest.raises(ValueError):
        _client(server).predictions.create(version="v", input={"x": Path("/dev/zero")})
    assert server.requests == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_as_input_is_refused_without_blocking(raw: RawFactory, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    server = raw(serve_each(_ok))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            _client(server).predictions.create(version="v", input={"x": fifo})
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # blocked opening the FIFO: unblock it so the thread ends, then fail
        with open(fifo, "wb"):
            pass
        thread.join(5)
        pytest.fail("opening a FIFO input blocked the call")
    assert outcome and isinstance(outcome[0], ValueError), outcome
    assert server.requests == []


def test_files_create_of_dev_zero_is_refused(raw: RawFactory) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    server = raw(serve_each(_ok))
    with pytest.raises(ValueError):
        _client(server).files.create(Path("/dev/zero"))
    assert server.requests == []
