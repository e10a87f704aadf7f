"""``bundle``: the package as a zip that imports without compiling (``_bundle``)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from replicate_min import _cli
from replicate_min.testing import FakeReplicate

ROOT = Path(__file__).parent.parent


def test_a_bundle_imports_every_module_from_its_bytecode_and_runs(tmp_path: Path, fake: FakeReplicate) -> None:
    out = tmp_path / "fn.zip"
    with open(tmp_path / "out", "w") as o, open(tmp_path / "err", "w") as e:
        assert _cli.main(["bundle", str(out)], o, e) == 0
    names = zipfile.ZipFile(out).namelist()
    assert "replicate_min/_client.pyc" in names and "replicate_min/_client.py" in names
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import replicate_min, replicate_min._transport;"
        "mods = [m for n, m in sys.modules.items() if n.startswith('replicate_min')];"
        "assert all(m.__file__.endswith('.pyc') for m in mods), [m.__file__ for m in mods];"
        "client = replicate_min.Client(api_token=sys.argv[2], base_url=sys.argv[3]);"
        "print(client.run('replicate-min/echo', {'prompt': 'zip'}))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(out), fake.token, fake.base_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: only the zip has replicate_min
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1"},
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "zip\n"), result.stderr


def test_no_testing_leaves_the_fake_out_and_a_bad_path_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "small.zip"
    with open(tmp_path / "o", "w") as o, open(tmp_path / "e", "w") as e:
        assert _cli.main(["bundle", "--no-testing", str(out)], o, e) == 0
        assert not any(n.startswith("replicate_min/testing/") for n in zipfile.ZipFile(out).namelist())
        assert _cli.main(["bundle", str(tmp_path / "missing" / "x.zip")], o, e) == 1
    assert (tmp_path / "e").read_text().startswith("error: could not write")


def test_a_bundle_without_the_fake_says_so_and_a_zip_cannot_bundle_itself(tmp_path: Path) -> None:
    out = tmp_path / "small.zip"
    with open(tmp_path / "o", "w") as o, open(tmp_path / "e", "w") as e:
        assert _cli.main(["bundle", "--no-testing", str(out)], o, e) == 0
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(out)}
    for command in (["demo"], ["serve-fake"], ["bundle", "again.zip"]):
        result = subprocess.run(
            [sys.executable, "-m", "replicate_min", *command], capture_output=True, text=True, cwd=tmp_path, env=env
        )
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert ("bundled without" if command[0] != "bundle" else "its sources are not files") in result.stderr
    assert not (tmp_path / "again.zip").exists()
