"""``python -m replicate_min batch`` (``_cli_batch``): resumes after SIGKILL and Ctrl-C with every row
once in RESULTS and one prediction per row on the fake (which runs in this process, not the killed one)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from replicate_min.testing import FakeReplicate, HangAfter, input_key

from .test_cli import environment


@pytest.fixture
def batch_fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0, step=0.01, latency=0.002) as fake:
        yield fake


def write_rows(path: Path, count: int) -> List[Dict[str, Any]]:
    inputs = [{"prompt": f"row {i}"} for i in range(count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in inputs))
    return inputs


def command(*args: str) -> List[str]:
    return [sys.executable, "-m", "replicate_min", "batch", *args]


def start(fake: Optional[FakeReplicate], *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args), cwd=cwd, env=environment(fake), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run(fake: Optional[FakeReplicate], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=cwd, env=environment(fake), capture_output=True, text=True)


def results_of(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_all_once(fake: FakeReplicate, results: Path, inputs: List[Dict[str, Any]]) -> None:
    lines = results_of(results)
    assert sorted(line["row"] for line in lines) == list(range(len(inputs))), "every row exactly once"
    for line in lines:
        assert line["status"] == "succeeded" and line["output"] == inputs[line["row"]]["prompt"], line
        assert set(line) == {"row", "id", "status", "output", "error", "metrics"}
    counts = fake.creates_per_input
    assert [counts.get(input_key(row), 0) for row in inputs] == [1] * len(inputs), "one prediction per row"
    assert len({line["id"] for line in lines}) == len(inputs)


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()


def wait_for(condition: Any) -> None:
    while not condition():
        time.sleep(0.01)


def test_a_batch_writes_one_line_per_row_and_a_rerun_writes_none(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    inputs = write_rows(tmp_path / "rows.jsonl", 12)
    first = run(batch_fake, "replicate-min/echo", "--input", "rows.jsonl", "--output", "out.jsonl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "" and "all 12 rows succeeded" in first.stderr
    assert (tmp_path / "out.jsonl.journal").exists()  # beside RESULTS
    again = run(batch_fake, "replicate-min/echo", "--input", "rows.jsonl", "--output", "out.jsonl", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    check_all_once(batch_fake, tmp_path / "out.jsonl", inputs)


def test_sigkill_in_the_window_before_the_id_is_recorded_makes_no_duplicate(
    batch_fake: FakeReplicate, tmp_path: Path
) -> None:
    """The create is made on the API, the answer never comes, the process is killed: the resume
    finds the prediction. (Without reconciliation this row gets two predictions.)"""
    inputs = write_rows(tmp_path / "rows.jsonl", 6)
    batch_fake.inject(HangAfter(method="POST", path="/v1/models/"))
    args = ("replicate-min/echo", "--input", "rows.jsonl", "--output", "out.jsonl", "--concurrency", "2")
    process = start(batch_fake, *args, cwd=tmp_path)
    wait_for(lambda: len(batch_fake.predictions_created) == 6 and (tmp_path / "out.jsonl").exists())
    wait_for(lambda: len((tmp_path / "out.jsonl").read_text().splitlines()) == 5)
    kill(process)
    resumed = run(batch_fake, *args, "--settle", "0", cwd=tmp_path)  # (the fake recorded the create)
    assert resumed.returncode == 0, resumed.stderr
    check_all_once(batch_fake, tmp_path / "out.jsonl", inputs)


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    inputs = write_rows(tmp_path / "rows.jsonl", 60)
    args = ("replicate-min/echo", "--input", "rows.jsonl", "--output", "out.jsonl", "--concurrency", "4")
    with FakeReplicate(start_delay=0, step=0.005, latency=0.03) as fake:  # a wide window to be killed in
        for _ in range(8):
            process = start(fake, *args, cwd=tmp_path)
            time.sleep(chance.uniform(0.0, 0.8))  # a random moment, not a bound: any moment must be safe
            kill(process)
        final = run(fake, *args, cwd=tmp_path)
        assert final.returncode == 0, (seed, final.stderr)
        check_all_once(fake, tmp_path / "out.jsonl", inputs)


def test_a_line_cut_short_by_a_kill_is_redone(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    inputs = write_rows(tmp_path / "rows.jsonl", 5)
    args = ("replicate-min/echo", "--input", "rows.jsonl", "--output", "out.jsonl")
    assert run(batch_fake, *args, cwd=tmp_path).returncode == 0
    out = tmp_path / "out.jsonl"
    text = out.read_text()
    out.write_text(text[: len(text) - 20])  # the last line, half written
    assert run(batch_fake, *args, cwd=tmp_path).returncode == 0
    lines = results_of(out)
    assert sorted(line["row"] for line in lines) == [0, 1, 2, 3, 4]
    assert len(batch_fake.predictions_created) == 5  # redone by following its prediction, not creating
    check_all_once(batch_fake, out, inputs)


def test_ctrl_c_stops_and_says_how_to_resume(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    batch_fake.add_model("test/slow", lambda input: input["prompt"])
    batch_fake.step = 0.2
    inputs = write_rows(tmp_path / "rows.jsonl", 30)
    args = ("test/slow", "--input", "rows.jsonl", "--output", "out.jsonl", "--concurrency", "2")
    process = start(batch_fake, *args, cwd=tmp_path)
    wait_for(lambda: (tmp_path / "out.jsonl").exists() and (tmp_path / "out.jsonl").read_text().count("\n") >= 2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    assert process.returncode == 130, err
    assert "Run the same command again to resume" in err and "Traceback" not in err
    batch_fake.step = 0.01
    assert run(batch_fake, *args, cwd=tmp_path).returncode == 0
    check_all_once(batch_fake, tmp_path / "out.jsonl", inputs)


def test_a_second_ctrl_c_while_it_shuts_down_exits_130_at_once(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl", 8)
    args = ("replicate-min/forever", "--input", "rows.jsonl", "--output", "out.jsonl", "--wait", "1")
    process = start(batch_fake, *args, "--concurrency", "4", "--cancel-on-exit", cwd=tmp_path)
    wait_for(lambda: any(r.method == "GET" for r in batch_fake.requests))  # following predictions still running
    process.send_signal(signal.SIGINT)
    wait_for(lambda: any(r.path.endswith("/cancel") for r in batch_fake.requests))  # shutting down: canceling
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "unexpected" not in err, err
    lines = results_of(tmp_path / "out.jsonl") if (tmp_path / "out.jsonl").exists() else []
    assert len({line["row"] for line in lines}) == len(lines)  # (the journal is consistent, as after a kill)


def test_cancel_on_exit_cancels_the_predictions_in_flight(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl", 3)
    args = ("replicate-min/forever", "--input", "rows.jsonl", "--output", "out.jsonl", "--wait", "1")
    process = start(batch_fake, *args, "--cancel-on-exit", cwd=tmp_path)
    wait_for(lambda: len(batch_fake.predictions_created) == 3 and any(r.method == "GET" for r in batch_fake.requests))
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    assert process.returncode == 130, err
    assert [p.status for p in batch_fake.predictions_created] == ["canceled"] * 3
    assert "were canceled" in err


def test_some_rows_failing_is_exit_1_with_a_summary(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl", 4)
    result = run(batch_fake, "replicate-min/fail", "--input", "rows.jsonl", "--output", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 1
    assert "4 of 4 rows did not succeed" in result.stderr and "out.jsonl" in result.stderr
    assert [line["status"] for line in results_of(tmp_path / "out.jsonl")] == ["failed"] * 4


def test_a_jsonl_file_with_a_bom_is_read(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_bytes(b'\xef\xbb\xbf{"prompt": "bom"}\n')
    result = run(batch_fake, "replicate-min/echo", "--input", "rows.jsonl", "--output", "o.jsonl", cwd=tmp_path)
    assert result.returncode == 0 and results_of(tmp_path / "o.jsonl")[0]["output"] == "bom", result.stderr


def test_csv_rows_with_typed_columns(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    batch_fake.add_model("test/inputs", lambda input: input)
    (tmp_path / "rows.csv").write_text('prompt,steps:json,flags:json\n"a, cat",30,"[1, 2]"\nplain,1.5,null\n')
    result = run(batch_fake, "test/inputs", "--input", "rows.csv", "--output", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = {line["row"]: line["output"] for line in results_of(tmp_path / "out.jsonl")}
    assert outputs == {
        0: {"prompt": "a, cat", "steps": 30, "flags": [1, 2]},
        1: {"prompt": "plain", "steps": 1.5, "flags": None},
    }


def test_output_dir_saves_files_inside_it_only(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    batch_fake.add_model("test/file", lambda input: "data:text/plain;base64,aGk=")
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    result = run(
        batch_fake, "test/file", "--input", "rows.jsonl", "--output", "o.jsonl", "--output-dir", "files", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    for line in results_of(tmp_path / "o.jsonl"):
        (saved,) = line["files"]
        assert (tmp_path / saved).resolve().is_relative_to((tmp_path / "files").resolve())
        assert Path(tmp_path, saved).read_bytes() == b"hi"


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ('{"a": 1}\n{"a": \n', (), "rows.jsonl line 2: not valid JSON"),
        ('{"a": 1}\n\n[1, 2]\n', (), "rows.jsonl line 3: a row must be a JSON object (its input), got list"),
        ("", (), "rows.jsonl has no rows"),
        ("\n\n", (), "rows.jsonl has no rows"),
        (None, (), "cannot read the rows rows.jsonl: No such file or directory"),
        (b"\xff\xfe{}\n", (), "rows.jsonl is not UTF-8 text"),
        ('{"a": 1}\n{"a": NaN}\n', (), "rows.jsonl line 2: not valid JSON (NaN is not a JSON number)"),
        ('{"a": 1e400}\n', (), "rows.jsonl line 1: not valid JSON (1e400 is too large"),
        ('{"a": 1}\n', ("--shard", "3/3"), "shard must be"),
        ('{"a": 1}\n', ("--concurrency", "0"), "must be 1 or more"),
        ('{"a": 1}\n', ("--deployment", "a/b"), "give a model reference or --deployment, not both"),
        ('{"a": 1}\n', ("--output-dir", "blocked/inner"), "cannot write into the output folder blocked/inner"),
    ],
)
def test_bad_input_is_exit_2_naming_what_is_wrong(
    batch_fake: FakeReplicate, tmp_path: Path, rows: Any, extra: Any, message: str
) -> None:
    if rows is not None:
        path = tmp_path / "rows.jsonl"
        path.write_bytes(rows) if isinstance(rows, bytes) else path.write_text(rows)
    (tmp_path / "blocked").write_text("a file where a folder should be")
    result = run(batch_fake, "replicate-min/echo", "--input", "rows.jsonl", "--output", "o.jsonl", *extra, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert batch_fake.predictions_created == []


def test_a_journal_from_another_input_is_refused(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl", 3)
    args = ("--input", "rows.jsonl", "--output", "o.jsonl", "--journal", "j")
    assert run(batch_fake, "replicate-min/echo", *args, cwd=tmp_path).returncode == 0
    (tmp_path / "rows.jsonl").write_text('{"prompt": "something else"}\n')
    other = run(batch_fake, "replicate-min/echo", *args, cwd=tmp_path)
    assert other.returncode == 2 and "the journal is another input's" in other.stderr
    model = run(batch_fake, "replicate-min/tokens", *args, cwd=tmp_path)
    assert model.returncode == 2 and "use another --journal file" in model.stderr
    (tmp_path / "o.jsonl").write_text("not a result\n")
    (tmp_path / "rows.jsonl").write_text('{"prompt": "row 0"}\n')
    foreign = run(batch_fake, "replicate-min/echo", *args, cwd=tmp_path)
    assert foreign.returncode == 2 and "o.jsonl line 1 is not a batch result" in foreign.stderr
    assert len(batch_fake.predictions_created) == 3


def test_shards_as_processes_at_once_do_every_row_once(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    inputs = write_rows(tmp_path / "rows.jsonl", 30)
    processes = [
        start(
            batch_fake,
            "replicate-min/echo",
            "--input",
            "rows.jsonl",
            "--output",
            f"o{k}.jsonl",
            "--shard",
            f"{k}/3",
            cwd=tmp_path,
        )
        for k in range(3)
    ]
    for process in processes:
        _, err = process.communicate()
        assert process.returncode == 0, err
    merged = tmp_path / "all.jsonl"
    merged.write_text("".join((tmp_path / f"o{k}.jsonl").read_text() for k in range(3)))
    check_all_once(batch_fake, merged, inputs)
    for k in range(3):
        assert {line["row"] % 3 for line in results_of(tmp_path / f"o{k}.jsonl")} == {k}


def test_progress_on_a_pipe_is_lines_not_redraws(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl", 3)
    result = run(batch_fake, "replicate-min/echo", "--input", "rows.jsonl", "--output", "o.jsonl", cwd=tmp_path)
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert "3/3 rows done, 0 failed, 0 in flight" in result.stderr
    assert "429s waited out" in result.stderr and "elapsed" in result.stderr
    assert os.path.getsize(tmp_path / "o.jsonl") > 0


def test_the_input_file_as_output_is_refused_and_untouched(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    (tmp_path / "one.jsonl").write_text('{"prompt": "only"}')
    result = run(batch_fake, "replicate-min/echo", "--input", "one.jsonl", "--output", "one.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and "is the --input file" in result.stderr
    (tmp_path / "notes.txt").write_text("my notes, no newline")
    other = run(batch_fake, "replicate-min/echo", "--input", "one.jsonl", "--output", "notes.txt", cwd=tmp_path)
    assert other.returncode == 2 and "notes.txt line 1 is not a batch result" in other.stderr
    assert (tmp_path / "one.jsonl").read_text() == '{"prompt": "only"}'
    assert (tmp_path / "notes.txt").read_text() == "my notes, no newline"
    assert batch_fake.predictions_created == []


def test_two_processes_on_one_journal_the_second_is_refused(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl", 3)
    args = ("replicate-min/forever", "--input", "rows.jsonl", "--output", "out.jsonl", "--wait", "1")
    first = start(batch_fake, *args, cwd=tmp_path)  # runs until killed: its predictions never end
    wait_for(lambda: len(batch_fake.predictions_created) == 3)
    second = run(batch_fake, *args, cwd=tmp_path)
    kill(first)
    assert second.returncode == 2 and "in use by another batch process" in second.stderr
    assert len(batch_fake.predictions_created) == 3  # the second created nothing


def test_rows_nested_too_deeply_are_exit_2(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text("[" * 100000 + "]" * 100000 + "\n")
    result = run(batch_fake, "replicate-min/echo", "--input", "rows.jsonl", "--output", "o.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and "rows.jsonl line 1: not valid JSON (nested too deeply)" in result.stderr


def test_output_dir_names_each_file_of_a_row_apart(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    for number in range(3):
        batch_fake.files[f"f{number}"] = {"id": f"f{number}", "content_type": "image/png", "data": b"file %d" % number}
    urls = [f"{batch_fake.base_url}/v1/files/f{number}/download" for number in range(3)]
    batch_fake.add_model("test/files", lambda input: urls)
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n')
    result = run(
        batch_fake, "test/files", "--input", "rows.jsonl", "--output", "o.jsonl", "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    [line] = results_of(tmp_path / "o.jsonl")
    assert [Path(tmp_path, saved).read_bytes() for saved in line["files"]] == [b"file 0", b"file 1", b"file 2"]


def test_a_file_that_cannot_be_saved_is_named_and_the_resume_goes_on(batch_fake: FakeReplicate, tmp_path: Path) -> None:
    missing = f"{batch_fake.base_url}/v1/files/missing/download"
    batch_fake.add_model("test/gone", lambda input: ["data:text/plain;base64,aGk=", missing])
    write_rows(tmp_path / "rows.jsonl", 3)
    args = ("test/gone", "--input", "rows.jsonl", "--output", "o.jsonl", "--output-dir", "out")
    first = run(batch_fake, *args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert "3 of 3 rows did not succeed or their files could not be saved" in first.stderr
    lines = results_of(tmp_path / "o.jsonl")
    assert sorted(line["row"] for line in lines) == [0, 1, 2]
    for line in lines:
        assert line["status"] == "succeeded" and len(line["files"]) == 1, line
        assert "404" in line["files_error"] and missing in line["files_error"], line
    again = run(batch_fake, *args, cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    assert len(results_of(tmp_path / "o.jsonl")) == 3, "a resume does not redo (or wait on) the rows already written"


def test_a_refused_download_is_the_rows_files_error_and_a_link_in_the_folder_is_not_followed(
    batch_fake: FakeReplicate, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{unused.getsockname()[1]}/x.png"  # nothing listens once closed
    batch_fake.add_model("test/mixed", lambda input: refused if input["prompt"] == "row 1" else "data:,hi")
    write_rows(tmp_path / "rows.jsonl", 3)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "2").symlink_to(outside)  # planted: row 2's folder points out of --output-dir
    args = ("test/mixed", "--input", "rows.jsonl", "--output", "o.jsonl", "--output-dir", "out", "--concurrency", "1")
    result = run(batch_fake, *args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = {line["row"]: line for line in results_of(tmp_path / "o.jsonl")}
    assert sorted(lines) == [0, 1, 2] and "files_error" not in lines[0]
    assert "could not connect" in lines[1]["files_error"], lines[1]
    assert "is a link" in lines[2]["files_error"] and list(outside.iterdir()) == []
    assert not list((tmp_path / "out").rglob("*.part"))
