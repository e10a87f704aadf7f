"""Cold start from a zip: ``python bench/bundle.py [--rounds N]``.

Times a fresh ``python -S -c "import replicate_min; replicate_min.Client()"`` three ways, as a
serverless function ships the package: a zip of sources (every module compiled at every
start: zipimport cannot cache bytecode), the zip ``python -m replicate_min bundle`` writes
(bytecode beside each source), and the unzipped folder with its ``__pycache__`` warm. The
floor is the bare interpreter, measured in the same run; medians of ``--rounds``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replicate_min._bundle import bundle  # noqa: E402

CODE = "import sys; sys.path.insert(0, sys.argv[1]); import replicate_min; replicate_min.Client(api_token='r8_x')"


def _median(argv: list, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(argv, check=True, env={"PYTHONDONTWRITEBYTECODE": "1"})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = folder / "sources.zip"
        with zipfile.ZipFile(sources, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((ROOT / "replicate_min").rglob("*.py")):
                archive.write(path, path.relative_to(ROOT).as_posix())
        bundled = folder / "bundle.zip"
        bundle(bundled)
        # the unzipped package with warm __pycache__ (compiled once, here)
        subprocess.run([sys.executable, "-c", CODE, str(ROOT)], check=True)
        floor = _median([sys.executable, "-S", "-c", "pass"], rounds)
        rows = [
            ("zip of sources", _median([sys.executable, "-S", "-c", CODE, str(sources)], rounds)),
            ("bundle zip (bytecode inside)", _median([sys.executable, "-S", "-c", CODE, str(bundled)], rounds)),
            ("unzipped, __pycache__ warm", _median([sys.executable, "-S", "-c", CODE, str(ROOT)], rounds)),
        ]
    print(
        f"# cold start: python -S, import replicate_min, Client(); median of {rounds}; Python {sys.version.split()[0]}"
    )
    print("| package shipped as | time | over a bare interpreter |")
    print("| --- | --- | --- |")
    print(f"| (bare interpreter) | {floor * 1000:.0f} ms | - |")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.0f} ms | +{(seconds - floor) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
