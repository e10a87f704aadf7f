"""The CLI on a real pseudo-terminal (issue 14, point 1): streamed text stays on screen."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Iterator, List, Optional, Tuple

import pytest

from replicate_min.testing import FakeReplicate

from .test_cli import environment

pty = pytest.importorskip("pty")  # POSIX only

TEXT = "one two three four five six seven eight nine"


@pytest.fixture
def slow_fake() -> Iterator[FakeReplicate]:
    # long enough in "starting" for the status line to show before any text
    with FakeReplicate(start_delay=0.3, step=0.05) as fake:
        yield fake


def on_terminal(
    fake: FakeReplicate, *args: str, pipe_stdout: bool = False, limit: float = 60
) -> Tuple[int, bytes, Optional[str]]:
    """Runs the CLI with stderr (and stdout unless piped) on a pty; returns (exit code, screen bytes, stdout)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "replicate_min", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if pipe_stdout else follower,
        stderr=follower,
        env={**environment(fake), "REPLICATE_POLL_INTERVAL": "0.05", "TERM": "xterm"},
    )
    os.close(follower)
    screen = b""
    try:
        end = time.monotonic() + limit  # a safety net, not a timing assertion
        while time.monotonic() < end:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: every holder of the terminal has closed it
                break
            if not data:
                break
            screen += data
        stdout = process.stdout.read().decode() if process.stdout is not None else None
        code = process.wait(timeout=limit)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        os.close(leader)
    return code, screen, stdout


def render(raw: bytes) -> List[str]:
    """What a terminal shows: honours CR, LF and erase-to-end-of-line; any other escape fails."""
    lines: List[List[str]] = [[]]
    row = column = 0
    text = raw.decode()
    index = 0
    while index < len(text):
        if text.startswith("\x1b[K", index):
            del lines[row][column:]
            index += 3
            continue
        char = text[index]
        index += 1
        assert char != "\x1b", f"unexpected escape sequence at {index}: {text[index - 1 : index + 10]!r}"
        if char == "\r":
            column = 0
        elif char == "\n":
            row += 1
            column = 0
            if row == len(lines):
                lines.append([])
        else:
            line = lines[row]
            line.extend(" " * (column - len(line)))
            if column < len(line):
                line[column] = char
            else:
                line.append(char)
            column += 1
    return ["".join(line).rstrip() for line in lines]


def test_streamed_text_stays_on_screen_and_the_status_line_never_overwrites_it(slow_fake: FakeReplicate) -> None:
    code, raw, _ = on_terminal(slow_fake, "run", "replicate-min/tokens", "-i", f"prompt={TEXT}", "--stream")
    assert code == 0, raw
    screen = render(raw)
    assert TEXT in screen, screen  # the whole text, on a line of its own
    text = raw.decode()
    assert "starting" in text  # the status line showed while the model started...
    assert "processing" in text  # ...with the real status, not a stuck "starting"
    first_token = text.index("one")
    span = text[first_token : text.index("nine") + len("nine")]
    assert "\x1b[K" not in span and "\r" not in span  # nothing wrote over the text while it streamed
    assert "%" not in text and "/9" not in text  # no status line per token


def test_piped_stdout_is_clean_and_the_terminal_gets_no_status_line_per_token(slow_fake: FakeReplicate) -> None:
    code, raw, stdout = on_terminal(
        slow_fake, "run", "replicate-min/tokens", "-i", f"prompt={TEXT}", "--stream", pipe_stdout=True
    )
    assert code == 0 and stdout == TEXT + "\n"
    assert "%" not in raw.decode() and "/9" not in raw.decode()  # the log events do not redraw it
    assert render(raw) == [""]  # the status line was erased: the terminal is left clean


def test_piped_run_has_clean_stdout_and_no_status_lines(slow_fake: FakeReplicate) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "replicate_min", "run", "replicate-min/tokens", "-i", f"prompt={TEXT}", "--stream"],
        capture_output=True,
        text=True,
        env=environment(slow_fake),
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, TEXT + "\n", "")


def test_server_text_cannot_drive_the_terminal(slow_fake: FakeReplicate) -> None:
    nasty = "title\x1b]0;pwned\x07 clear\x1b[2J csi\x9b2J end"
    slow_fake.add_model("test/nasty", lambda input: [nasty, "\n"])
    slow_fake.add_model("test/nasty-fail", lambda input: (_ for _ in ()).throw(RuntimeError(nasty)))
    for args in (["test/nasty"], ["test/nasty", "--stream"], ["test/nasty-fail"], ["test/nasty", "--json"]):
        code, raw, _ = on_terminal(slow_fake, "run", *args)
        text = raw.decode()
        assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text and "\x9b" not in text, args
        assert "pwned" in text and ("\\x1b" in text or "\\u001b" in text), args
        assert code == (1 if args == ["test/nasty-fail"] else 0)


def test_predictions_list_is_a_table_on_a_terminal(slow_fake: FakeReplicate) -> None:
    from replicate_min import Client

    with Client(api_token=slow_fake.token, base_url=slow_fake.base_url) as client:
        prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    code, raw, _ = on_terminal(slow_fake, "predictions", "list")
    screen = render(raw)
    assert code == 0
    assert screen[0].split() == ["ID", "STATUS", "CREATED", "MODEL"]
    assert screen[1].startswith(prediction.id) and screen[1].endswith("replicate-min/echo")
    code, raw, _ = on_terminal(slow_fake, "predictions", "list", "--json")
    assert [p["id"] for p in json.loads(raw.decode().replace("\r\n", "\n"))] == [prediction.id]
