"""The CLI on a real pseudo-terminal (issue 14, point 1): streamed text stays on screen."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

from replicate_min.testing import FakeReplicate, ManualClock

from .test_cli import environment

pty = pytest.importorskip("pty")  # POSIX only

TEXT = "one two three four five six seven eight nine"


@pytest.fixture
def real_time_fake() -> Iterator[FakeReplicate]:
    # what these tests check does not depend on when the prediction moves: it may be quick
    with FakeReplicate(start_delay=0.02, step=0.01) as fake:
        yield fake


class Terminal:
    """The CLI run with stderr (and stdout unless piped) on a pty, read as it writes.

    ``read_until`` lets a test wait for what the CLI shows (an event, not a duration) before
    it moves the fake's clock; the process is killed on exit if it is still running.
    """

    def __init__(self, fake: FakeReplicate, *args: str, pipe_stdout: bool = False, limit: float = 60) -> None:
        self.limit = limit  # real seconds: a safety net, not a timing assertion
        self.screen = b""
        self.out = b""
        self.leader, follower = pty.openpty()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "replicate_min", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe_stdout else follower,
                stderr=follower,
                env={**environment(fake), "REPLICATE_POLL_INTERVAL": "0.05", "TERM": "xterm"},
            )
        except BaseException:
            os.close(self.leader)
            raise
        finally:
            os.close(follower)
        self.open = [self.leader]
        if self.process.stdout is not None:
            self.open.append(self.process.stdout.fileno())

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        os.close(self.leader)

    def read_until(self, done: Callable[[Terminal], bool]) -> None:
        """Reads what the CLI writes until ``done(self)``, or fails if it never comes (or the CLI ended first)."""
        end = time.monotonic() + self.limit
        while not done(self):
            assert self.open and time.monotonic() < end, (self.screen, self.out)
            self._read_some(min(1.0, max(0.0, end - time.monotonic())))

    def finish(self) -> int:
        """Reads everything until the CLI closes its outputs, and returns its exit code."""
        end = time.monotonic() + self.limit
        while self.open:
            assert time.monotonic() < end, (self.screen, self.out)
            if not self._read_some(1.0) and self.process.poll() is not None and self.leader in self.open:
                self.open.remove(self.leader)  # exited, and no one else holds the terminal open
        return self.process.wait(timeout=self.limit)

    def _read_some(self, timeout: float) -> bool:
        ready, _, _ = select.select(self.open, [], [], timeout)
        for fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: every holder of the terminal has closed it
                data = b""
            if not data:
                self.open.remove(fd)
            elif fd == self.leader:
                self.screen += data
            else:
                self.out += data
        return bool(ready)


def on_terminal(
    fake: FakeReplicate, *args: str, pipe_stdout: bool = False, limit: float = 60
) -> Tuple[int, bytes, Optional[str]]:
    """Runs the CLI with stderr (and stdout unless piped) on a pty; returns (exit code, screen bytes, stdout)."""
    with Terminal(fake, *args, pipe_stdout=pipe_stdout, limit=limit) as terminal:
        code = terminal.finish()
    return code, terminal.screen, terminal.out.decode() if pipe_stdout else None


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


TOKENS = TEXT.split(" ")


@pytest.fixture
def manual_fake() -> Iterator[Tuple[FakeReplicate, ManualClock]]:
    """A fake whose time the test moves: a prediction starts at 1 and emits one token a second."""
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=1, step=1) as fake:
        yield fake, clock


def stream_tokens(terminal: Terminal, clock: ManualClock, first_token_shown: Callable[[Terminal], bool]) -> int:
    """Drives the run: the status line shows "starting"; the prediction starts (the CLI, polling,
    shows "processing" and opens the stream); the first token comes and, once it is shown, the
    other eight. Returns the exit code.

    A CLI that polled past the start would show progress ("3/9") before the text: that is
    legitimate, so the test opens the stream before any token is due, and then any progress
    drawn at all ("1/9".."9/9") was a log event redrawing the status line once text streamed.
    """
    terminal.read_until(lambda t: b"starting" in t.screen)
    clock.advance(1)
    terminal.read_until(lambda t: b"processing" in t.screen)
    clock.wait_for_waiters(1, timeout=terminal.limit)  # the stream is open, waiting for the first token
    clock.advance(1)
    terminal.read_until(first_token_shown)
    clock.advance(len(TOKENS))
    return terminal.finish()


def test_streamed_text_stays_on_screen_and_the_status_line_never_overwrites_it(
    manual_fake: Tuple[FakeReplicate, ManualClock],
) -> None:
    fake, clock = manual_fake
    with Terminal(fake, "run", "replicate-min/tokens", "-i", f"prompt={TEXT}", "--stream") as terminal:
        code = stream_tokens(terminal, clock, lambda t: b"one" in t.screen)
    raw = terminal.screen
    assert code == 0, raw
    screen = render(raw)
    assert TEXT in screen, screen  # the whole text, on a line of its own
    text = raw.decode()
    assert "starting" in text  # the status line showed while the model started...
    assert "processing" in text  # ...with the real status, not a stuck "starting"
    first_token = text.index("one")
    span = text[first_token : text.index("nine") + len("nine")]
    assert "\x1b[K" not in span and "\r" not in span  # nothing wrote over the text while it streamed
    assert "%" not in text and "/9" not in text, text  # no status line per token (see stream_tokens)


def test_piped_stdout_is_clean_and_the_terminal_gets_no_status_line_per_token(
    manual_fake: Tuple[FakeReplicate, ManualClock],
) -> None:
    fake, clock = manual_fake
    args = ("run", "replicate-min/tokens", "-i", f"prompt={TEXT}", "--stream")
    with Terminal(fake, *args, pipe_stdout=True) as terminal:
        code = stream_tokens(terminal, clock, lambda t: b"one" in t.out)
    raw = terminal.screen.decode()
    assert code == 0 and terminal.out.decode() == TEXT + "\n"
    assert "starting" in raw and "processing" in raw  # the status line showed until the text started...
    assert "%" not in raw and "/9" not in raw, raw  # ...and the log events did not redraw it
    assert render(terminal.screen) == [""]  # the status line was erased: the terminal is left clean


def test_piped_run_has_clean_stdout_and_no_status_lines(real_time_fake: FakeReplicate) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "replicate_min", "run", "replicate-min/tokens", "-i", f"prompt={TEXT}", "--stream"],
        capture_output=True,
        text=True,
        env=environment(real_time_fake),
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, TEXT + "\n", "")


def test_server_text_cannot_drive_the_terminal(real_time_fake: FakeReplicate) -> None:
    nasty = "title\x1b]0;pwned\x07 clear\x1b[2J csi\x9b2J end"
    real_time_fake.add_model("test/nasty", lambda input: [nasty, "\n"])
    real_time_fake.add_model("test/nasty-fail", lambda input: (_ for _ in ()).throw(RuntimeError(nasty)))
    for args in (["test/nasty"], ["test/nasty", "--stream"], ["test/nasty-fail"], ["test/nasty", "--json"]):
        code, raw, _ = on_terminal(real_time_fake, "run", *args)
        text = raw.decode()
        assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text and "\x9b" not in text, args
        assert "pwned" in text and ("\\x1b" in text or "\\u001b" in text), args
        assert code == (1 if args == ["test/nasty-fail"] else 0)


def test_predictions_list_is_a_table_on_a_terminal(real_time_fake: FakeReplicate) -> None:
    from replicate_min import Client

    with Client(api_token=real_time_fake.token, base_url=real_time_fake.base_url) as client:
        prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    code, raw, _ = on_terminal(real_time_fake, "predictions", "list")
    screen = render(raw)
    assert code == 0
    assert screen[0].split() == ["ID", "STATUS", "CREATED", "MODEL"]
    assert screen[1].startswith(prediction.id) and screen[1].endswith("replicate-min/echo")
    code, raw, _ = on_terminal(real_time_fake, "predictions", "list", "--json")
    assert [p["id"] for p in json.loads(raw.decode().replace("\r\n", "\n"))] == [prediction.id]
