"""Every shell and Python block in the README runs as written against ``python -m replicate_min serve-fake``.

The server block is run as written and its ``export`` lines are applied, as the README tells a
reader to; then each ``sh`` block runs in bash (``set -e``) and each ``python`` block in this
process. Blocks that install from the network (``pip install``) cannot run offline: they are
listed here one by one, so a new block can never be skipped silently.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)
SERVER_BLOCK = ".venv/bin/python -m replicate_min serve-fake\n"
NEEDS_NETWORK = [  # pip fetches packages: not runnable offline, and not here
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/python -m replicate_min demo\n",
    "python3 -m venv .venv && .venv/bin/pip install -q tox tox-uv && .venv/bin/tox run-parallel --parallel-live\n",
    "rm -rf dist && .venv/bin/pip wheel --no-deps -w dist . && python3 -m venv elsewhere"
    " && elsewhere/bin/pip install dist/*.whl\n",
]
# The blocks poll the fake, which answers at once: no need for the default half second between polls.
POLL_INTERVAL = "0.02"
RUNNABLE = [block for block in SHELL_BLOCKS if block not in NEEDS_NETWORK and block != SERVER_BLOCK]


def test_the_readme_blocks_are_all_accounted_for() -> None:
    assert len(PYTHON_BLOCKS) >= 5
    assert SHELL_BLOCKS.count(SERVER_BLOCK) == 1
    assert [block for block in SHELL_BLOCKS if "pip install" in block] == NEEDS_NETWORK
    assert len(RUNNABLE) >= 2
    # the network-only demo block ends in the demo, which tests/test_cli.py runs offline
    assert NEEDS_NETWORK[0].endswith("-m replicate_min demo\n")


@pytest.fixture(scope="module")
def served() -> Iterator[Dict[str, str]]:
    """The README's server block, run as written; yields the environment it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLICATE_")}
    env.update(PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost", REPLICATE_POLL_INTERVAL="0.02")
    args = shlex.split(SERVER_BLOCK)
    assert args[:1] == [".venv/bin/python"]
    process = subprocess.Popen(
        [sys.executable, *args[1:]], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        exported: Dict[str, str] = {}
        received = b""
        end = time.monotonic() + 60  # a safety net only
        while len(exported) < 2 and time.monotonic() < end:
            ready, _, _ = select.select([process.stdout], [], [], 1.0)
            if not ready:
                assert process.poll() is None, "serve-fake exited"
                continue
            data = os.read(process.stdout.fileno(), 4096)  # unbuffered: select sees all that is left
            assert data, "serve-fake closed its output"
            received += data
            for line in received.decode().split("\n")[:-1]:  # whole lines only
                if line.startswith("export "):
                    name, _, value = line[len("export ") :].partition("=")
                    [exported[name]] = shlex.split(value)
        assert set(exported) == {"REPLICATE_BASE_URL", "REPLICATE_API_TOKEN"}
        yield exported
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


@pytest.mark.parametrize("index", range(len(RUNNABLE)))
def test_readme_shell_block_runs(served: Dict[str, str], index: int, tmp_path: Path) -> None:
    work = tmp_path / "work"
    bin_dir = work / ".venv" / "bin"  # the blocks run from the checkout, with the demo's .venv
    bin_dir.mkdir(parents=True)
    # `python` is this interpreter; `replicate-min` is what pip's console script does.
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "replicate-min").write_text(
        f"#!{sys.executable}\nimport sys\nfrom replicate_min.__main__ import main\nsys.exit(main())\n"
    )
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLICATE_")}
    env.update(PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost")
    env["REPLICATE_POLL_INTERVAL"] = POLL_INTERVAL
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in served.items())
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", exports + RUNNABLE[index]],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=120,
    )
    assert result.returncode == 0, f"README shell block {index + 1} failed:\n{RUNNABLE[index]}\n{result.stderr}"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(served: Dict[str, str], index: int, tmp_path: Path) -> None:
    # as a reader runs it: saved to a file, run with the venv's python (a process pool's "spawn"
    # workers import that file again, which exec() in this process would hide)
    script = tmp_path / f"readme_example_{index + 1}.py"
    script.write_text(PYTHON_BLOCKS[index])
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLICATE_")}
    env.update(served, PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost", REPLICATE_POLL_INTERVAL=POLL_INTERVAL)
    result = subprocess.run(
        [sys.executable, script.name], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, f"README example {index + 1} failed:\n{PYTHON_BLOCKS[index]}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def test_readme_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    for index, block in enumerate(PYTHON_BLOCKS):
        (tmp_path / f"readme_example_{index + 1}.py").write_text(block)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.devnull, "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
