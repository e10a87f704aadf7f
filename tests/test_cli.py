"""The command line, driven as a subprocess against the fake server."""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from replicate_min.testing import FakeReplicate, ManualClock


@pytest.fixture
def cli_fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.05, step=0.02) as fake:
        yield fake


def environment(fake: FakeReplicate | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLICATE_")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = str(Path(__file__).parent.parent)
    if fake is not None:
        env.update(REPLICATE_API_TOKEN=fake.token, REPLICATE_BASE_URL=fake.base_url, REPLICATE_POLL_INTERVAL="0.02")
    return env


def cli(fake: FakeReplicate | None, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replicate_min", *args],
        capture_output=True,
        text=True,
        env=environment(fake),
        timeout=timeout,
    )


def test_run_prints_a_string_output_as_is(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/echo", "-i", "prompt=hello world")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hello world\n", "")


def test_run_parses_json_values_and_pretty_prints_json_output(cli_fake: FakeReplicate) -> None:
    cli_fake.add_model("test/inputs", lambda input: input)
    result = cli(
        cli_fake,
        "run",
        "test/inputs",
        "-i",
        "n=5",
        "-i",
        "flag=true",
        "-i",
        "xs=[1,2]",
        "-i",
        'o={"a":1}',
        "-i",
        "s=text",
        "-i",
        "e=",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 5, "flag": True, "xs": [1, 2], "o": {"a": 1}, "s": "text", "e": ""}
    assert result.stdout.startswith("{\n  ")


def test_run_sends_a_file(cli_fake: FakeReplicate, tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"file body")
    result = cli(cli_fake, "run", "replicate-min/echo", "-i", f"prompt=@{path}")
    assert result.stdout.strip() == "data:text/plain;base64,ZmlsZSBib2R5"


def wait_for(condition: Callable[[], bool], limit: float = 60) -> None:
    """Waits for a state of the fake another process brings about; ``limit`` real seconds is a safety net."""
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "never happened"
        time.sleep(0.005)


def read_until(process: subprocess.Popen[bytes], wanted: bytes, limit: float = 60) -> bytes:
    """Reads the process's stdout until ``wanted`` is in it (``limit`` real seconds is a safety net)."""
    assert process.stdout is not None
    received = b""
    end = time.monotonic() + limit
    while wanted not in received:
        assert time.monotonic() < end, received
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            data = os.read(process.stdout.fileno(), 4096)
            assert data, received  # the CLI closed stdout without printing it
            received += data
    return received


def test_run_stream_prints_tokens_as_they_arrive() -> None:
    # A ManualClock fake: the stream is open before any token is due, and each token comes when
    # the test says (on real time a loaded machine could see it all finish before the stream opens).
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=1, step=1) as fake:
        process = subprocess.Popen(
            [sys.executable, "-m", "replicate_min", "run", "replicate-min/tokens", "-i", "prompt=a b c", "--stream"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment(fake),
        )
        try:
            wait_for(lambda: fake.creates == 1)
            clock.advance(1)  # it starts; the CLI sees it processing and opens the stream
            clock.wait_for_waiters(1, timeout=60)  # the stream waits for the first token
            clock.advance(1)
            first = read_until(process, b"a")  # printed before the other tokens exist
            clock.advance(3)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert (process.returncode, first + stdout, stderr) == (0, b"a b c\n", b"")
        assert first == b"a"
        assert any(r.path.startswith("/v1/streams/") for r in fake.requests)


def test_run_json_prints_the_final_prediction(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/echo", "-i", "prompt=x", "--json", "--wait", "5")
    prediction = json.loads(result.stdout)
    assert prediction["status"] == "succeeded" and prediction["output"] == "x"
    assert cli_fake.requests[0].headers["prefer"] == "wait=5"


def test_a_failed_prediction_exits_1_with_its_error(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/fail")
    assert result.returncode == 1
    assert "the model failed on purpose" in result.stderr and "Traceback" not in result.stderr


def test_timeout_exits_1_and_says_so(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/forever", "--timeout", "0.5")
    assert result.returncode == 1 and "did not finish within 0.5 s" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["run", "not-a-ref"],
        ["run", "a/b", "-i", "novalue"],
        ["run", "a/b", "-i", "f=@/no/such/file"],
        ["run", "a/b", "--wait", "61"],
        ["run", "a/b", "--timeout", "0"],
        ["predictions"],
        ["predictions", "get"],
        ["nonsense"],
        ["run", "a/b", "-i", "k=1", "-i", "k=2"],
        ["run", "a/b", "-i", "n=1e999"],
        ["run", "a/b", "--deployment", "c/d"],
        ["run", "a/b", "--no-wait", "--stream"],
        ["serve-fake", "--port", "99999"],
        ["serve-fake", "--port", "-1"],
        ["predictions", "list", "--limit", "0"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(cli_fake: FakeReplicate, args: list[str]) -> None:
    result = cli(cli_fake, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "--help'" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args", [[], ["run"], ["predictions"], ["predictions", "list"], ["serve-fake"], ["demo"]])
def test_every_command_has_help(args: list[str]) -> None:
    result = cli(None, *args, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_a_missing_token_says_to_set_the_variable(cli_fake: FakeReplicate) -> None:
    for args in (["predictions", "list"], ["run", "replicate-min/echo"]):
        env_less = cli(None, *args)
        assert env_less.returncode == 2 and env_less.stderr.count("\n") == 1
        assert "set REPLICATE_API_TOKEN" in env_less.stderr and "api_token=" not in env_less.stderr


def test_api_errors_show_status_and_detail_and_never_the_token(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "predictions", "get", "missing")
    assert result.returncode == 1
    assert result.stderr == "error: 404 Not found: The requested resource could not be found\n"
    cli_fake.token = "r8_other"  # the CLI's token is now wrong
    wrong = subprocess.run(
        [sys.executable, "-m", "replicate_min", "run", "replicate-min/echo"],
        capture_output=True,
        text=True,
        env={**environment(cli_fake), "REPLICATE_API_TOKEN": "r8_secret_value"},
        timeout=30,
    )
    assert wrong.returncode == 1 and "401" in wrong.stderr
    assert "r8_secret_value" not in wrong.stderr + wrong.stdout


def test_predictions_get_list_cancel(cli_fake: FakeReplicate) -> None:
    cli_fake.page_size = 2
    from replicate_min import Client

    client = Client(api_token=cli_fake.token, base_url=cli_fake.base_url)
    ids = [client.predictions.create(model="replicate-min/forever", input={}).id for _ in range(3)]
    got = json.loads(cli(cli_fake, "predictions", "get", ids[0]).stdout)
    assert got["id"] == ids[0]
    page = json.loads(cli(cli_fake, "predictions", "list").stdout)
    assert [p["id"] for p in page] == ids[::-1][:2]
    everything = json.loads(cli(cli_fake, "predictions", "list", "--all").stdout)
    assert [p["id"] for p in everything] == ids[::-1]
    canceled = json.loads(cli(cli_fake, "predictions", "cancel", ids[1]).stdout)
    assert canceled["status"] == "canceled"
    client.close()


def test_ctrl_c_cancels_the_prediction_and_exits_130(cli_fake: FakeReplicate) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "replicate_min", "run", "replicate-min/forever"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(cli_fake),
    )
    try:
        deadline = time.monotonic() + 60  # a safety net: the wait is for the CLI's first poll
        while not any(r.method == "GET" for r in cli_fake.requests) and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    [record] = cli_fake.predictions_created
    assert record.status == "canceled"
    assert f"canceled prediction {record.id}" in stderr and "Traceback" not in stderr


def test_serve_fake_prints_its_url_and_token_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "replicate_min", "serve-fake"], stdout=subprocess.PIPE, text=True, env=environment(None)
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip().split("=", 1)[1]
        token = process.stdout.readline().strip().split("=", 1)[1]
        from replicate_min import Client

        client = Client(api_token=token, base_url=base_url)
        assert client.run("replicate-min/echo", {"prompt": "served"}) == "served"
        client.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0


def test_demo_runs_without_token_or_network() -> None:
    result = cli(None, "demo")
    assert result.returncode == 0, result.stderr
    assert "a standard library client streams every token the moment it is made" in result.stdout
    assert "6. The same output by polling" in result.stdout and result.stderr == ""


def test_the_progress_line_shows_on_a_terminal() -> None:
    from tests.test_cli_terminal import Terminal

    # A ManualClock fake: the CLI is shown each state (starting, then processing with progress)
    # for as long as the test needs, so the check does not depend on how fast it polls.
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=1, step=1) as fake:
        args = ("run", "replicate-min/tokens", "-i", "prompt=one two three four five six")
        with Terminal(fake, *args, pipe_stdout=True) as terminal:
            terminal.read_until(lambda t: b"starting" in t.screen)
            clock.advance(2)  # it starts, and emits its first token
            terminal.read_until(lambda t: b"/6" in t.screen)
            clock.advance(10)
            code = terminal.finish()
    text = terminal.screen.decode()
    assert code == 0
    assert "\r\x1b[K" in text and "processing" in text
    assert "%" in text and "/6" in text and "[" in text
    assert json.loads(terminal.out) == ["one", " two", " three", " four", " five", " six"]


def test_no_progress_line_when_stderr_is_not_a_terminal(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/tokens", "-i", "prompt=a b")
    assert result.stderr == "" and json.loads(result.stdout) == ["a", " b"]
    streamed = cli(cli_fake, "run", "replicate-min/tokens", "-i", "prompt=a b c", "--stream")
    assert (streamed.returncode, streamed.stdout, streamed.stderr) == (0, "a b c\n", "")


# -- heavy and odd server text ---------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_streamed_logs_are_read_once_not_rescanned_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1500 tqdm log lines: rebuilding the logs and parsing all of them at each event (as the CLI
    # did, 43 s for 16 MB) reads ~1500 times more text than reading each event's own lines once.
    # On a ManualClock with no step, the 1500 outputs take no time.
    from replicate_min import Prediction, _cli
    from replicate_min._prediction import Progress

    parsed: list[int] = []
    original = Progress.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: type, logs: object) -> object:
        parsed.append(len(logs) if isinstance(logs, str) else 0)
        return original(cls, logs)

    monkeypatch.setattr(Progress, "parse", classmethod(counting))
    assigned: list[int] = []  # the length of every value given to a prediction's logs
    plain_setattr = Prediction.__setattr__

    def recording(self: Prediction, name: str, value: object) -> None:
        if name == "logs" and isinstance(value, str):
            assigned.append(len(value))
        plain_setattr(self, name, value)

    monkeypatch.setattr(Prediction, "__setattr__", recording)
    with FakeReplicate(clock=ManualClock(), start_delay=0, step=0) as fake:
        for name, value in environment(fake).items():
            monkeypatch.setenv(name, value)
        fake.add_model("test/many", lambda input: [f"item{i}" for i in range(1500)])
        out, err = io.StringIO(), _Terminal()
        assert _cli.main(["run", "test/many", "--stream"], out, err) == 0
        streamed = sum(len(line) for line in fake.predictions_created[-1].logs.splitlines(keepends=True))
    assert streamed > 50_000 and sum(parsed) <= 4 * streamed, (sum(parsed), streamed)
    assert sum(assigned) <= 4 * streamed, (sum(assigned), streamed)  # not rebuilt at every event


def test_lone_surrogates_from_the_server_are_escaped_not_fatal(cli_fake: FakeReplicate) -> None:
    cli_fake.add_model("test/surrogate", lambda input: "a\ud800b")
    result = cli(cli_fake, "run", "test/surrogate")
    assert (result.returncode, result.stdout) == (0, "a\\ud800b\n"), result.stderr
    created = cli(cli_fake, "run", "test/surrogate", "--no-wait")
    assert created.returncode == 0, created.stderr
    prediction_id = created.stdout.strip()
    # JSON can carry one ("\\ud800"); an event stream is UTF-8 and cannot.
    result = cli(cli_fake, "predictions", "get", prediction_id)
    assert result.returncode == 0 and "unexpected" not in result.stderr, result.stderr
    assert "\\ud800" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("urls", "names"),
    [
        (["https://x/a.png", "https://x/a.png", "https://x/a-1.png"], ["a.png", "a-1.png", "a-1-1.png"]),
        (["https://x/A.png", "https://x/a.png"], ["A.png", "a-1.png"]),  # one file on a case-insensitive disk
        (["https://x/download", "https://x/download?v=2", "https://x/"], ["download", "download-1", "output-2"]),
        (
            ["https://x/..%2F..%2Fetc%2Fpasswd", "data:,x", "https://x/output-1.txt"],
            ["_.._etc_passwd", "output-1.txt", "output-1-1.txt"],
        ),
    ],
)
def test_output_names_are_safe_and_distinct(urls: List[str], names: List[str]) -> None:
    from replicate_min._cli import output_names

    assert output_names(urls) == names


def test_the_commands_it_prints_run_as_pasted_in_the_same_shell(tmp_path: Path) -> None:
    import shlex

    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    script = bin_dir / "replicate-min"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom replicate_min.__main__ import main\nsys.exit(main())\n")
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), "PATH": "/usr/bin:/bin"}

    def printed(*command: str, path: str = "/usr/bin:/bin") -> str:
        shown = subprocess.run([*command, "--help"], cwd=tmp_path, env={**env, "PATH": path}, capture_output=True)
        usage = re.match(r"usage: (.+?)\s+\[-h\]", shown.stdout.decode(), re.S)  # (a long one wraps)
        assert usage, shown.stderr
        prog = usage.group(1)
        pasted = subprocess.run([*shlex.split(prog), "--version"], cwd=tmp_path, env={**env, "PATH": path})
        assert pasted.returncode == 0, f"{prog!r} does not run as pasted"
        return prog

    assert printed(".venv/bin/replicate-min") == ".venv/bin/replicate-min"  # not on PATH: by its path
    assert printed("replicate-min", path=f"{bin_dir}:/usr/bin:/bin") == "replicate-min"
    assert printed(".venv/bin/python", "-m", "replicate_min").endswith(" -m replicate_min")
    if sys.version_info >= (3, 10):  # (sys.orig_argv: the interpreter as typed)
        assert printed(".venv/bin/python", "-m", "replicate_min") == ".venv/bin/python -m replicate_min"


def test_no_token_names_the_variable_and_the_offline_fake() -> None:
    result = cli(None, "run", "replicate-min/echo", "-i", "prompt=x")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "set REPLICATE_API_TOKEN" in result.stderr and "-m replicate_min serve-fake'" in result.stderr


def test_output_names_keep_the_extension_and_stay_linear() -> None:
    from replicate_min._cli import output_names

    [long] = output_names(["https://x/" + "a" * 300 + ".png"])
    assert len(long) == 200 and long.endswith("a.png")
    names = output_names([f"https://x/{i}/x.png" for i in range(3000)])  # (n^2 lookups took 5 s for 5000)
    assert len(set(names)) == 3000 and names[:3] == ["x.png", "x-1.png", "x-2.png"]
