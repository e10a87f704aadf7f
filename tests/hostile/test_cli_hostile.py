"""The command line against hostile servers and tokens: one clean line on stderr, no traceback, no token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from tests.hostile.rawserver import RawServer, Request, Script, prediction, response, serve_each

RawFactory = Callable[[Script], RawServer]
ROOT = Path(__file__).resolve().parents[2]
DEEP = b"[" * 100000 + b"]" * 100000


def _cli(server: RawServer, token: str, *args: str) -> subprocess.CompletedProcess:
    env: Dict[str, Any] = {
        key: value for key, value in os.environ.items() if not key.upper().endswith("_PROXY") and key != "PYTHONPATH"
    }
    env.update(
        PYTHONPATH=str(ROOT),
        REPLICATE_API_TOKEN=token,
        REPLICATE_BASE_URL=server.url,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONIOENCODING="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "replicate_min", *args], env=env, capture_output=True, timeout=30, cwd=str(ROOT)
    )


def _assert_one_clean_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert all(c.isprintable() for c in lines[0]), repr(lines[0])
    return lines[0]


# -- cause 1: a token with a line break inside --------------------------------------------------


@pytest.mark.parametrize("token", ["r8_SE\nCRET", "r8_SE\rCRET"])
def test_cli_with_a_broken_token_prints_one_line_without_the_token(raw: RawFactory, token: str) -> None:
    server = raw(serve_each(lambda r: response(200, prediction("x"))))
    result = _cli(server, token, "predictions", "get", "x")
    assert result.returncode != 0
    for part in ("r8_SE", "CRET", "SECRET"):
        assert part.encode() not in result.stderr and part.encode() not in result.stdout
    assert server.requests == []
    _assert_one_clean_line(result.stderr)


def test_cli_with_a_trailing_newline_in_the_token_works(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(200, prediction("x"))))
    result = _cli(server, "r8_SECRET\n", "predictions", "get", "x")
    assert result.returncode == 0, result.stderr
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer r8_SECRET"]


# -- cause 6: deep JSON -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 404])
def test_cli_with_deep_json_prints_one_line(raw: RawFactory, status: int) -> None:
    server = raw(serve_each(lambda r: response(status, DEEP)))
    result = _cli(server, "r8_token", "predictions", "get", "x")
    assert result.returncode == 1
    line = _assert_one_clean_line(result.stderr)
    assert "RecursionError" not in line


# -- cause 16: control characters in server text --------------------------------------------------


ESCAPES = "\x1b]0;pwned\x07 gone \x1b[2J\x1b[31mred\r\nforged: line\x9b2J"


@pytest.mark.parametrize("field", ["detail", "title"])
def test_cli_escapes_control_characters_in_an_error_detail(raw: RawFactory, field: str) -> None:
    problem = {"type": "about:blank", "title": "Not found", "status": 404, "detail": "gone", field: ESCAPES}

    def answer(request: Request) -> bytes:
        return response(404, problem, content_type="application/problem+json")

    server = raw(serve_each(answer))
    result = _cli(server, "r8_token", "predictions", "get", "x")
    assert result.returncode == 1
    for raw_byte in (b"\x1b", b"\x07", b"\x9b", "\x9b".encode()):
        assert raw_byte not in result.stderr, result.stderr
    line = _assert_one_clean_line(result.stderr)
    assert "404" in line and "pwned" in line  # the text is shown, escaped


def test_cli_escapes_control_characters_in_a_non_json_error_body(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(404, ESCAPES.encode(), content_type="text/plain")))
    result = _cli(server, "r8_token", "predictions", "get", "x")
    assert result.returncode == 1
    assert b"\x1b" not in result.stderr and b"\x07" not in result.stderr
    _assert_one_clean_line(result.stderr)


def test_cli_escapes_control_characters_in_a_server_sent_id(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(200, prediction("x\x1b[2J\nforged"))))
    result = _cli(server, "r8_token", "predictions", "get", "x")
    assert result.returncode == 1  # the answer is another prediction than the one asked for
    assert b"\x1b" not in result.stderr
    _assert_one_clean_line(result.stderr)


def _trickled(answer: bytes, create: bool) -> Script:
    """Answers every request at once, but the create (or, with ``create=False``, each poll)
    a byte every 0.2 s: each byte well inside the read timeout, the answer far past 1 s."""

    def script(conn: Any) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            if (request.method == "POST") != create:
                if not conn.send(answer):
                    return
                continue
            for byte in answer:
                if conn.wait(0.2) or not conn.send(bytes([byte])):
                    return

    return script


@pytest.mark.parametrize("trickled", ["create", "poll"])
def test_run_timeout_bounds_the_create_and_each_poll(raw: RawFactory, trickled: str) -> None:
    server = raw(_trickled(response(201, prediction("p1", "processing")), create=trickled == "create"))
    result = _cli(server, "r8_token", "run", "a/b", "--timeout", "1")
    line = _assert_one_clean_line(result.stderr)
    assert result.returncode == 1
    if trickled == "create":
        assert "did not answer within 1 s; a prediction may have been made" in line
    else:
        assert "prediction p1 did not finish within 1 s" in line


def test_run_timeout_during_an_input_upload_says_no_prediction_was_made(raw: RawFactory, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (400 * 1024))  # past the inline data: URL limit, so it is uploaded
    server = raw(_trickled(response(201, {"urls": {"get": "https://example.com/f"}}), create=True))
    result = _cli(server, "r8_token", "run", "a/b", "-i", f"f=@{big}", "--timeout", "1")
    line = _assert_one_clean_line(result.stderr)
    assert result.returncode == 1
    assert "the input files were not uploaded within 1 s; no prediction was made" in line
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/files")]
