"""Issue 14, points 2 to 5: the deadline while streaming, one-line errors, CLI conventions, serve-fake."""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from replicate_min import Client
from replicate_min.testing import FakeReplicate

from .test_cli import cli, environment


@pytest.fixture
def cli_fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.05, step=0.02, keepalive_interval=0.2) as fake:
        yield fake


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


# -- 2. --timeout holds while streaming -----------------------------------------------


@pytest.mark.parametrize("keepalive", [0.2, 3600.0])  # a stream with keep-alives, and one with nothing at all
def test_timeout_holds_while_a_stream_sends_nothing(keepalive: float) -> None:
    with FakeReplicate(start_delay=0.01, keepalive_interval=keepalive) as fake:
        # 120 s is only a safety net: before the fix this ran until the stream gave up.
        result = cli(fake, "run", "replicate-min/forever", "--timeout", "1", "--stream", timeout=120)
        message = one_line_error(result, 1)
        [record] = fake.predictions_created
        assert record.status == "processing"  # still running: the CLI said how to cancel it
    assert "did not finish within 1 s; it is still running" in message
    assert f"predictions cancel {record.id}" in message


def test_timeout_while_starting_with_stream(cli_fake: FakeReplicate) -> None:
    cli_fake.start_delay = 3600
    result = cli(cli_fake, "run", "replicate-min/echo", "--timeout", "0.5", "--stream", timeout=120)
    assert "did not finish within 0.5 s" in one_line_error(result, 1)


# -- 3. one line, the documented exit code ----------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("REPLICATE_BASE_URL", "notaurl", "REPLICATE_BASE_URL must be an https:// URL"),
        ("REPLICATE_BASE_URL", "http://example.com", "REPLICATE_BASE_URL must be an https:// URL"),
        ("REPLICATE_POLL_INTERVAL", "abc", "REPLICATE_POLL_INTERVAL must be a number of seconds"),
        ("REPLICATE_POLL_INTERVAL", "-1", "REPLICATE_POLL_INTERVAL must be a number of seconds"),
        ("REPLICATE_POLL_INTERVAL", "nan", "REPLICATE_POLL_INTERVAL must be a number of seconds"),
    ],
)
@pytest.mark.parametrize("command", [["predictions", "list"], ["run", "replicate-min/echo"]])
def test_bad_settings_are_one_line_exit_2(
    cli_fake: FakeReplicate, variable: str, value: str, expected: str, command: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "replicate_min", *command],
        capture_output=True,
        text=True,
        env={**environment(cli_fake), variable: value},
        timeout=60,
    )
    assert expected in one_line_error(result, 2)
    assert cli_fake.token not in result.stderr and not cli_fake.requests


def test_serve_fake_on_a_busy_port_is_one_line_exit_1() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = cli(None, "serve-fake", "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}" in one_line_error(result, 1)


def test_serve_fake_with_an_impossible_port_is_one_line_exit_2() -> None:
    assert "65535" in one_line_error(cli(None, "serve-fake", "--port", "99999"), 2)


def test_nan_is_text_and_an_infinite_number_is_refused(cli_fake: FakeReplicate) -> None:
    cli_fake.add_model("test/inputs", lambda input: input)
    result = cli(cli_fake, "run", "test/inputs", "-i", "n=NaN", "-i", "m=-Infinity", "-i", "big=1e308")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"n": "NaN", "m": "-Infinity", "big": 1e308}
    assert "1e999 is too large" in one_line_error(cli(cli_fake, "run", "test/inputs", "-i", "n=1e999"), 2)
    assert cli_fake.creates == 1


def test_errors_escape_server_text_and_never_show_the_token(cli_fake: FakeReplicate) -> None:
    nasty = "boom\x1b]0;title\x07\x1b[2J\n second line " + cli_fake.token
    cli_fake.add_model("test/nasty", lambda input: (_ for _ in ()).throw(RuntimeError(nasty)))
    message = one_line_error(cli(cli_fake, "run", "test/nasty"), 1)
    assert "\x1b" not in message and "\x07" not in message
    assert "\\x1b]0;title\\x07\\x1b[2J\\x0a second line" in message
    assert cli_fake.token not in message and "***" in message


def test_an_unreachable_server_is_one_line_exit_1(cli_fake: FakeReplicate) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        result = subprocess.run(
            [sys.executable, "-m", "replicate_min", "predictions", "get", "x"],
            capture_output=True,
            text=True,
            env={**environment(cli_fake), "REPLICATE_BASE_URL": f"http://127.0.0.1:{port}"},
            timeout=60,
        )
    one_line_error(result, 1)


# -- 4. conventions -----------------------------------------------------------------------


def test_version_and_help_without_arguments() -> None:
    from replicate_min import __version__

    version = cli(None, "--version")
    assert (version.returncode, version.stdout) == (0, f"replicate-min {__version__}\n")
    bare = cli(None)
    assert bare.returncode == 0 and bare.stdout.startswith("usage: ") and " -m replicate_min [-h]" in bare.stdout
    assert "run" in bare.stdout and "exit codes" in bare.stdout and bare.stderr == ""


def test_usage_names_the_console_script(tmp_path: Path) -> None:
    # What pip writes for [options.entry_points] console_scripts: replicate-min = replicate_min.__main__:main
    script = tmp_path / "replicate-min"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom replicate_min.__main__ import main\nsys.exit(main())\n", encoding="utf-8"
    )
    script.chmod(0o755)
    env = {**environment(None), "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}  # as pip puts it on PATH
    result = subprocess.run(["replicate-min", "run", "--help"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.startswith("usage: replicate-min run ")
    assert "replicate-min run replicate-min/echo" in result.stdout  # the examples too
    wrong = subprocess.run(["replicate-min", "nonsense"], capture_output=True, text=True, env=env)
    assert "see 'replicate-min --help'" in one_line_error(wrong, 2)


def test_run_help_explains_at_and_text(cli_fake: FakeReplicate) -> None:
    text = cli(None, "run", "--help").stdout
    assert "KEY=@path sends the file" in text and "-i 'name=\"@me\"'" in text
    cli_fake.add_model("test/inputs", lambda input: input)
    quoted = cli(cli_fake, "run", "test/inputs", "-i", 'name="@me"', "-i", 'n="5"')
    assert json.loads(quoted.stdout) == {"name": "@me", "n": "5"}


def test_predictions_list_and_all_share_one_shape_with_limit(cli_fake: FakeReplicate) -> None:
    cli_fake.page_size = 2
    with Client(api_token=cli_fake.token, base_url=cli_fake.base_url) as client:
        ids = [client.predictions.create(model="replicate-min/echo", input={"prompt": str(n)}).id for n in range(5)]
    newest = ids[::-1]

    def listed(*args: str) -> list[str]:
        result = cli(cli_fake, "predictions", "list", *args)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert isinstance(data, list) and all(isinstance(p, dict) and "status" in p for p in data)
        return [p["id"] for p in data]

    assert listed() == newest[:2]
    assert listed("--all") == newest
    assert listed("--limit", "3") == newest[:3]  # follows pages as needed
    assert listed("--limit", "1") == newest[:1]
    assert listed("--all", "--limit", "4") == newest[:4]
    assert listed("--limit", "50") == newest


def test_run_no_wait_prints_the_id(cli_fake: FakeReplicate) -> None:
    cli_fake.start_delay = 3600  # still "starting" when the second create is answered, however loaded the machine
    result = cli(cli_fake, "run", "replicate-min/forever", "--no-wait")
    [record] = cli_fake.predictions_created
    assert (result.returncode, result.stdout, result.stderr) == (0, record.id + "\n", "")
    assert not record.done
    as_json = json.loads(cli(cli_fake, "run", "replicate-min/forever", "--no-wait", "--json").stdout)
    assert as_json["status"] == "starting"


def test_run_output_dir_saves_urls_and_data_urls(cli_fake: FakeReplicate, tmp_path: Path) -> None:
    cli_fake.files["f1"] = {"id": "f1", "content_type": "image/png", "data": b"\x89PNG fake"}
    url = f"{cli_fake.base_url}/v1/files/f1/download"
    data_url = "data:text/plain;base64," + base64.b64encode(b"inline").decode()
    cli_fake.add_model("test/files", lambda input: [url, data_url, "plain text", url])
    folder = tmp_path / "out"
    result = cli(cli_fake, "run", "test/files", "--output-dir", str(folder))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [url, data_url, "plain text", url]
    assert sorted(p.name for p in folder.iterdir()) == ["download", "download-1", "output-1.txt"]
    assert (folder / "download").read_bytes() == b"\x89PNG fake" == (folder / "download-1").read_bytes()
    assert (folder / "output-1.txt").read_bytes() == b"inline"
    assert result.stderr.count("saved ") == 3


def test_run_a_deployment(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "--deployment", "replicate-min/echo-deployment", "-i", "prompt=deployed")
    assert (result.returncode, result.stdout) == (0, "deployed\n")
    assert cli_fake.requests[0].path == "/v1/deployments/replicate-min/echo-deployment/predictions"
    assert "give a model reference or --deployment" in one_line_error(cli(cli_fake, "run"), 2)


def test_repeated_input_key_is_an_error(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/echo", "-i", "k=1", "-i", "k=2")
    assert "-i k is given twice" in one_line_error(result, 2) and cli_fake.creates == 0


def test_stream_json_keeps_stdout_pure_json(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/tokens", "-i", "prompt=a b c", "--stream", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == ["a", " b", " c"]
    assert result.stderr == "a b c\n"  # the text went to stderr


def test_run_json_on_a_failed_prediction_prints_it_and_exits_1(cli_fake: FakeReplicate) -> None:
    result = cli(cli_fake, "run", "replicate-min/fail", "--json")
    prediction = json.loads(result.stdout)
    assert prediction["status"] == "failed" and prediction["error"] == "the model failed on purpose"
    assert "failed: the model failed on purpose" in one_line_error(result, 1)


# -- 5. serve-fake --------------------------------------------------------------------------


def test_serve_fake_prints_export_lines_a_shell_can_eval(tmp_path: Path) -> None:
    env_file = tmp_path / "fake.env"
    with open(env_file, "w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "replicate_min", "serve-fake", "--token", "r8_fixed_token"],
            stdout=sink,
            env=environment(None),
        )
    try:
        lines: list[str] = []
        for _ in range(600):  # until it has written its lines (a safety net of 60 s)
            lines = env_file.read_text().splitlines()
            if len(lines) >= 3 or server.poll() is not None:
                break
            server_wait(server, 0.1)
        assert lines[0].startswith("export REPLICATE_BASE_URL=http://127.0.0.1:")
        assert lines[1] == "export REPLICATE_API_TOKEN=r8_fixed_token"
        assert all(line.startswith("#") for line in lines[2:])
        env = environment(None)
        result = subprocess.run(
            [
                "sh",
                "-c",
                f'eval "$(cat {shlex.quote(str(env_file))})" && '
                f"exec {shlex.quote(sys.executable)} -m replicate_min run replicate-min/echo -i prompt=ok",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert server.returncode == 0


def server_wait(process: subprocess.Popen[Any], seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def test_serve_fake_token_is_checked() -> None:
    assert "visible ASCII" in one_line_error(cli(None, "serve-fake", "--token", "has space"), 2)


def test_an_empty_prediction_id_is_one_line_exit_2(cli_fake: FakeReplicate) -> None:
    for action in ("get", "cancel"):
        assert "id is empty" in one_line_error(cli(cli_fake, "predictions", action, ""), 2)
    assert not cli_fake.requests


def test_stream_of_a_prediction_finished_before_its_stream_opened_still_prints_it(cli_fake: FakeReplicate) -> None:
    # --wait holds the create until the prediction is done: there is nothing left to stream
    result = cli(cli_fake, "run", "replicate-min/tokens", "-i", "prompt=a b c", "--stream", "--wait", "10")
    assert (result.returncode, result.stdout, result.stderr) == (0, "a b c\n", "")
    assert not any(r.path.startswith("/v1/streams/") for r in cli_fake.requests)
    as_json = cli(cli_fake, "run", "replicate-min/tokens", "-i", "prompt=a b c", "--stream", "--wait", "10", "--json")
    assert json.loads(as_json.stdout)["output"] == ["a", " b", " c"] and as_json.stderr == "a b c\n"


def test_ctrl_c_while_streaming_cancels_and_exits_130(cli_fake: FakeReplicate) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "replicate_min", "run", "replicate-min/forever", "--stream"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(cli_fake),
    )
    try:
        for _ in range(600):  # until the stream is open (a safety net of 60 s)
            if any(r.path.startswith("/v1/streams/") for r in cli_fake.requests) or process.poll() is not None:
                break
            server_wait(process, 0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    [record] = cli_fake.predictions_created
    assert process.returncode == 130 and record.status == "canceled", stderr
    assert stderr.endswith(f"interrupted: canceled prediction {record.id}\n") and "Traceback" not in stderr


def test_predictions_list_all_stops_at_a_cursor_cycle(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from replicate_min import _cli

    for name, value in {"REPLICATE_API_TOKEN": fake.token, "REPLICATE_BASE_URL": fake.base_url}.items():
        monkeypatch.setenv(name, value)
    url = f"{fake.base_url}/v1/predictions?cursor=A"
    fake.fail_next("status", status=200, body={"results": [], "next": url}, times=50, path="/v1/predictions")
    err = io.StringIO()
    assert _cli.main(["predictions", "list", "--all"], io.StringIO(), err) == 1
    assert "cycle" in err.getvalue()
