"""The benchmark suite: ``python bench/run.py [--rounds N] [--official PYTHON]``.

Every figure is a ratio to a floor measured in the same run on the same fake server
(these machines are shared and noisy: absolute times drift, ratios hold):

* import cost over a bare interpreter, against the official client's;
* cold start (process, import, Client, one get()) against a bare ``urllib.request`` script;
* ``predictions.get()`` on one client against a bare ``http.client`` keep-alive loop;
* output events per second through ``Prediction.stream()`` against a naive
  ``split(b"\\n\\n")`` read loop over the same stream;
* RSS growth from the import, and peak traced memory while streaming 100 MB;
* 100 concurrent ``async_create`` + ``async_wait``, against the slowest prediction's own time.

``--official`` names the Python of a venv with ``replicate==1.0.7`` (also found as
``bench/.official/bin/python``): the official client is then measured the same way.
Medians of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import replicate_min  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"}


def clean_python() -> str:
    """A venv without pip or .pth files, so that nothing is imported at start-up but Python's own."""
    import tempfile
    import venv

    folder = Path(tempfile.mkdtemp(prefix="replicate-min-bench-"))
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    return str(folder / "bin" / "python")


def median_time(function: Callable[[], Any], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run_python(python: str, code: str) -> str:
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, env=ENV, check=True)
    return result.stdout


def process_time(python: str, code: str, rounds: int) -> float:
    return median_time(lambda: subprocess.run([python, "-c", code], env=ENV, check=True, capture_output=True), rounds)


class Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url, self.token = self.process.stdout.readline().split()
        self.client = replicate_min.Client(api_token=self.token, base_url=self.base_url, poll_interval=0.05)

    def finished(self, model: str, **input: Any) -> replicate_min.Prediction:
        prediction = self.client.predictions.create(model=model, input=input)
        prediction.wait()
        return prediction

    def close(self) -> None:
        self.client.close()
        self.process.communicate("", timeout=30)


# -- the measurements ---------------------------------------------------------------------


def import_cost(python: str, statement: str, rounds: int) -> float:
    """Seconds ``statement`` takes in a fresh interpreter, timed inside it (median)."""
    code = f"import time; started = time.perf_counter(); {statement}; print(time.perf_counter() - started)"
    return statistics.median(float(run_python(python, code)) for _ in range(rounds))


def cold_start(python: str, server: Server, prediction_id: str, kind: str, rounds: int) -> float:
    url = f"{server.base_url}/v1/predictions/{prediction_id}"
    scripts = {
        "floor": f"""
            import json, urllib.request
            request = urllib.request.Request({url!r}, headers={{"Authorization": "Bearer {server.token}"}})
            json.loads(urllib.request.urlopen(request).read())
        """,
        "ours": f"""
            import replicate_min
            client = replicate_min.Client(api_token={server.token!r}, base_url={server.base_url!r})
            client.predictions.get({prediction_id!r})
        """,
        "official": f"""
            import replicate
            client = replicate.Client(api_token={server.token!r}, base_url={server.base_url!r})
            client.predictions.get({prediction_id!r})
        """,
    }
    return process_time(python, textwrap.dedent(scripts[kind]), rounds)


def get_ours_and_floor(server: Server, prediction_id: str, calls: int, rounds: int) -> Tuple[float, float]:
    """Seconds per get(): ours, and a bare http.client keep-alive loop, in interleaved rounds;
    ours is the floor times the median of the rounds' ratios."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
    client = replicate_min.Client(api_token=server.token, base_url=server.base_url)

    def floor() -> None:
        for _ in range(calls):
            connection.request("GET", f"/v1/predictions/{prediction_id}", headers=headers)
            json.loads(connection.getresponse().read())

    def ours() -> None:
        for _ in range(calls):
            client.predictions.get(prediction_id)

    floor(), ours()
    floors, ratios = [], []
    for round in range(rounds * 2):  # A B B A: a drift in the machine's speed hits both alike
        pair = (floor, ours) if round % 2 == 0 else (ours, floor)
        times = {function: median_time(function, 1) / calls for function in pair}
        floors.append(times[floor])
        ratios.append(times[ours] / times[floor])
    connection.close()
    client.close()
    floor_time = statistics.median(floors)
    return floor_time * statistics.median(ratios), floor_time


def get_official(python: str, server: Server, prediction_id: str, calls: int) -> float:
    code = f"""
        import time, statistics, replicate
        client = replicate.Client(api_token={server.token!r}, base_url={server.base_url!r})
        def loop():
            for _ in range({calls}):
                client.predictions.get({prediction_id!r})
        loop()
        samples = []
        for _ in range(3):
            started = time.perf_counter(); loop(); samples.append(time.perf_counter() - started)
        print(statistics.median(samples) / {calls})
    """
    return float(run_python(python, textwrap.dedent(code)))


def sse_floor(url: str) -> float:
    """Output events per second of a naive read loop: read1, split on blank lines, count."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
    started = time.perf_counter()
    connection.request("GET", parts.path, headers={"Accept": "text/event-stream"})
    response = connection.getresponse()
    buffer, count = b"", 0
    while True:
        chunk = response.read1(65536)
        if not chunk:
            break
        blocks = (buffer + chunk).split(b"\n\n")
        buffer = blocks.pop()
        count += sum(1 for block in blocks if block.startswith(b"event: output"))
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def sse_ours(prediction: replicate_min.Prediction) -> float:
    started = time.perf_counter()
    count = sum(1 for event in prediction.stream() if event.event == "output")
    return count / (time.perf_counter() - started)


def sse_ours_and_floor(prediction: replicate_min.Prediction, rounds: int) -> Tuple[float, float]:
    """Events per second: ours, and the naive loop's, in interleaved rounds (A B B A); ours is
    the floor's median rate times the median of the rounds' ratios (the floor swings 2x here)."""
    assert prediction.urls is not None
    url = prediction.urls["stream"]
    floors, ratios = [], []
    for round in range(rounds):
        if round % 2 == 0:
            floor, ours = sse_floor(url), sse_ours(prediction)
        else:
            ours, floor = sse_ours(prediction), sse_floor(url)
        floors.append(floor)
        ratios.append(ours / floor)
    floor_rate = statistics.median(floors)
    return floor_rate, floor_rate * statistics.median(ratios)


def sse_official(python: str, server: Server, prediction_id: str) -> float:
    code = f"""
        import time, replicate
        client = replicate.Client(api_token={server.token!r}, base_url={server.base_url!r})
        prediction = client.predictions.get({prediction_id!r})
        started = time.perf_counter()
        count = sum(1 for event in prediction.stream() if getattr(event.event, "value", event.event) == "output")
        print(count / (time.perf_counter() - started))
    """
    return float(run_python(python, textwrap.dedent(code)))


def rss_growth(python: str, module: str) -> float:
    code = f"""
        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        before = rss()
        import {module}
        print(rss() - before)
    """
    return statistics.median(float(run_python(python, textwrap.dedent(code))) for _ in range(3))


def stream_peak(server: Server, prediction_id: str) -> Tuple[float, float]:
    code = f"""
        import tracemalloc, replicate_min
        client = replicate_min.Client(api_token={server.token!r}, base_url={server.base_url!r})
        prediction = client.predictions.get({prediction_id!r})
        tracemalloc.start()
        size = sum(len(event.data) for event in prediction.stream() if event.event == "output")
        print(size, tracemalloc.get_traced_memory()[1])
    """
    size, peak = run_python(clean_python(), textwrap.dedent(code)).split()
    return float(size), float(peak)


def concurrent_runs(server: Server, count: int, seconds: float) -> float:
    import asyncio

    async def one() -> None:
        prediction = await server.client.predictions.async_create(model="bench/timed", input={"seconds": seconds})
        await prediction.async_wait()

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return time.perf_counter() - started

    return asyncio.run(main()) - seconds


# -- the table ----------------------------------------------------------------------------


def compile_package() -> None:
    """An installed package has its bytecode compiled; measure it that way (this machine may set
    PYTHONDONTWRITEBYTECODE, which would otherwise make every run compile the sources again)."""
    import compileall

    compileall.compile_dir(str(ROOT / "replicate_min"), quiet=1)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--official", help="the Python of a venv with replicate==1.0.7 installed")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    compile_package()
    official = args.official or (
        str(ROOT / "bench/.official/bin/python") if (ROOT / "bench/.official/bin/python").exists() else None
    )
    if official and subprocess.run([official, "-c", "import replicate"], capture_output=True).returncode != 0:
        official = None
    machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"# {machine}; medians of {args.rounds} rounds ({args.rounds * 2} interleaved for get())")
    print(f"# official client: {'measured with ' + official if official else 'not installed (pass --official)'}")
    rows: List[Tuple[str, str, str, str, str, str]] = []
    figures: Dict[str, Any] = {}
    server = Server()
    try:
        done = server.finished("replicate-min/echo", prompt="x")
        python = clean_python()

        ours = import_cost(python, "import replicate_min", args.rounds)
        theirs = import_cost(official, "import replicate", args.rounds) if official else None
        ratio = ours / theirs if theirs else None
        figures["import"] = {"ours_s": ours, "official_s": theirs}
        rows.append(
            (
                "import cost over a bare interpreter",
                f"{ours * 1000:.1f} ms",
                f"official {theirs * 1000:.0f} ms" if theirs else "-",
                f"{ratio:.3f}x" if ratio else "-",
                "<= 0.067x (1/15)",
                "1x",
            )
        )
        ours = import_cost(python, "import replicate_min; replicate_min.Client(api_token='x')", args.rounds)
        theirs = (
            import_cost(official, "import replicate; replicate.Client(api_token='x')", args.rounds)
            if official
            else None
        )
        figures["import_and_client"] = {"ours_s": ours, "official_s": theirs}
        rows.append(
            (
                "import + Client() (resources load here)",
                f"{ours * 1000:.1f} ms",
                f"official {theirs * 1000:.0f} ms" if theirs else "-",
                f"{ours / theirs:.3f}x" if theirs else "-",
                "(no budget)",
                "1x",
            )
        )

        pairs = [  # interleaved, so that the machine's drift hits both alike
            (cold_start(python, server, done.id, "floor", 1), cold_start(python, server, done.id, "ours", 1))
            for _ in range(args.rounds * 2)
        ]
        floor = statistics.median(f for f, _ in pairs)
        ours = floor * statistics.median(o / f for f, o in pairs)
        theirs = cold_start(official, server, done.id, "official", args.rounds) if official else None
        figures["cold_start"] = {"floor_s": floor, "ours_s": ours, "official_s": theirs}
        rows.append(
            (
                "cold start: process, import, Client, get()",
                f"{ours * 1000:.0f} ms",
                f"urllib {floor * 1000:.0f} ms",
                f"{ours / floor:.2f}x",
                "<= 1.3x",
                f"{theirs / floor:.2f}x" if theirs else "-",
            )
        )

        ours, floor = get_ours_and_floor(server, done.id, 200, args.rounds)
        theirs = get_official(official, server, done.id, 300) if official else None
        figures["get"] = {"floor_s": floor, "ours_s": ours, "official_s": theirs}
        rows.append(
            (
                "predictions.get() on one client",
                f"{ours * 1e6:.0f} us",
                f"http.client {floor * 1e6:.0f} us",
                f"{ours / floor:.2f}x",
                "<= 1.3x",
                f"{theirs / floor:.2f}x" if theirs else "-",
            )
        )

        long = server.finished("bench/long", n=100_000)
        assert long.urls is not None
        floor_rate, ours_rate = sse_ours_and_floor(long, args.rounds)
        theirs_rate = sse_official(official, server, long.id) if official else None
        figures["sse"] = {"floor_per_s": floor_rate, "ours_per_s": ours_rate, "official_per_s": theirs_rate}
        rows.append(
            (
                "SSE output events/s via Prediction.stream()",
                f"{ours_rate / 1000:.0f}k/s",
                f"naive split {floor_rate / 1000:.0f}k/s",
                f"{ours_rate / floor_rate:.2f}x",
                ">= 0.35x",
                f"{theirs_rate / floor_rate:.2f}x" if theirs_rate else "-",
            )
        )

        ours = rss_growth(python, "replicate_min")
        theirs = rss_growth(official, "replicate") if official else None
        figures["rss"] = {"ours_bytes": ours, "official_bytes": theirs}
        rows.append(
            (
                "RSS growth from the import",
                f"{ours / 2**20:.1f} MB",
                "-",
                "-",
                "<= 3 MB",
                f"{theirs / 2**20:.1f} MB" if theirs else "-",
            )
        )

        big = server.finished("bench/big", megabytes=100)
        size, peak = stream_peak(server, big.id)
        figures["stream_memory"] = {"streamed_bytes": size, "peak_bytes": peak}
        rows.append(
            (
                f"peak traced memory streaming {size / 1e6:.0f} MB",
                f"{peak / 2**20:.1f} MB",
                "-",
                "-",
                "< 8 MB",
                "-",
            )
        )

        overhead = concurrent_runs(server, 100, 1.0)
        figures["concurrency"] = {"overhead_s": overhead}
        rows.append(
            (
                "100 concurrent async_create + async_wait",
                f"+{overhead:.2f} s",
                "slowest prediction 1.00 s",
                "-",
                "<= +1 s",
                "-",
            )
        )
    finally:
        server.close()
    header = ("what", "replicate_min", "floor", "ratio", "budget", "official (ratio)")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
