"""A batch of 1,000 rows against a throttled, slow fake: ``python bench/batch.py [--official PYTHON]``.

The fake runs in its own process with 200 ms of latency on every answer, 2 s per prediction and
a rate limit scaled from the API's (``--creates`` per second, ``--reads`` per second). Measured:

* ``Client.batch`` (what ``python -m replicate_min batch`` runs): wall time against the ideal,
  which is rows / the allowed create rate + one prediction's time; requests per row; 429s;
  the most predictions any row got;
* the same work as users write it today, ``asyncio.gather`` of ``async_run`` over every row,
  with this library and with the official client (``--official`` names a Python that has
  ``replicate`` installed): time, requests per row, failed rows.

``--rows 100000 --latency 0 --step 0 --no-limit --only-batch`` measures memory instead: the
process's peak RSS and the journal's size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent

BATCH = textwrap.dedent(
    """
    import json, os, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    import replicate_min
    base_url, token, journal = sys.argv[2], sys.argv[3], sys.argv[6]
    rows, concurrency = int(sys.argv[4]), int(sys.argv[5])
    inputs = ({"prompt": f"row {i}"} for i in range(rows))
    started = time.perf_counter()
    failed = wrong = 0
    with replicate_min.Client(api_token=token, base_url=base_url) as client:
        with client.batch("replicate-min/echo", inputs, journal=journal, concurrency=concurrency) as batch:
            for result in batch:
                failed += not result.succeeded
                wrong += result.output != f"row {result.row}"
    elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(os.path.getsize(journal + suffix) for suffix in ("", "-wal") if os.path.exists(journal + suffix))
    print(json.dumps({"seconds": elapsed, "failed": failed + wrong, "rss_mb": rss, "journal_mb": size / 2**20,
                      "throttled_seen": batch.stats.throttled}))
    """
)

GATHER = textwrap.dedent(
    """
    import asyncio, json, sys, time, warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, sys.argv[1])
    library, base_url, token, rows = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    replicate = __import__(library)
    client = replicate.Client(api_token=token, base_url=base_url)
    async def one(i):
        try:
            return await client.async_run("replicate-min/echo", input={"prompt": f"row {i}"}) == f"row {i}"
        except Exception:
            return False
    async def main():
        return await asyncio.gather(*(one(i) for i in range(rows)))
    started = time.perf_counter()
    results = asyncio.run(main())
    print(json.dumps({"seconds": time.perf_counter() - started, "failed": results.count(False)}))
    """
)


class Server:
    def __init__(self, args: argparse.Namespace) -> None:
        command = [sys.executable, str(ROOT / "bench" / "_server.py"), "--latency", str(args.latency)]
        command += ["--step", str(args.step)]
        if not args.no_limit:
            window = args.window
            creates, reads = round(args.creates * window), round(args.reads * window)
            command += ["--creates", str(creates), "--reads", str(reads), "--window", str(window)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdin is not None
        self.base_url, self.token = self.process.stdout.readline().split()

    def stats(self) -> Dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        stats: Dict[str, Any] = json.loads(self.process.stdout.readline())
        return stats

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def measure(args: argparse.Namespace, python: str, script: str, extra: Callable[[Server], List[str]]) -> Dict[str, Any]:
    server = Server(args)
    try:
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
        output = subprocess.run(
            [python, "-c", script, str(ROOT), *extra(server)],
            capture_output=True,
            text=True,
            env=env,
        )
        if output.returncode != 0:
            raise SystemExit(f"the workload failed:\n{output.stderr[-3000:]}")
        result: Dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
        result.update(server.stats())
        return result
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--step", type=float, default=2.0, help="seconds per prediction")
    parser.add_argument("--creates", type=int, default=100, help="creates allowed per second")
    parser.add_argument("--reads", type=int, default=500, help="other requests allowed per second")
    parser.add_argument("--window", type=float, default=1.0, help="the rate limit's window in seconds")
    parser.add_argument("--no-limit", action="store_true")
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--official", metavar="PYTHON", help="a Python with the official replicate installed")
    parser.add_argument("--only-batch", action="store_true")
    args = parser.parse_args()

    rows = args.rows
    ideal = (0 if args.no_limit else rows / args.creates) + args.step
    limits = "no rate limit" if args.no_limit else f"{args.creates} creates/s, {args.reads} other requests/s"
    print(f"{rows} rows, {args.latency * 1000:.0f} ms latency, {args.step} s per prediction, {limits}")
    print(f"ideal: {ideal:.1f} s (rows / create rate + one prediction)\n")
    with tempfile.TemporaryDirectory() as folder:
        journal = str(Path(folder) / "bench.journal")

        def batch_args(server: Server) -> List[str]:
            return [server.base_url, server.token, str(rows), str(args.concurrency), journal]

        ours = measure(args, sys.executable, BATCH, batch_args)
    line = "{:<34} {:>8} {:>9} {:>10} {:>6} {:>7} {:>9}"
    print(line.format("workload", "seconds", "vs ideal", "req/row", "429s", "failed", "max/row"))
    print(
        line.format(
            "Client.batch",
            f"{ours['seconds']:.1f}",
            f"{ours['seconds'] / ideal:.2f}x" if ideal else "-",
            f"{ours['requests'] / rows:.2f}",
            ours["throttled"],
            ours["failed"],
            ours["most_per_input"],
        )
    )
    if args.only_batch:
        rate = rows / ours["seconds"]
        print(f"\npeak RSS {ours['rss_mb']:.1f} MB, journal {ours['journal_mb']:.1f} MB", end="")
        print(f" for {rows} rows ({rate:.0f} rows/s)")
        return
    pythons = [("asyncio.gather(async_run), ours", sys.executable, "replicate_min")]
    if args.official:
        pythons.append(("asyncio.gather(async_run), official", args.official, "replicate"))
    for name, python, library in pythons:

        def gather_args(server: Server, library: str = library) -> List[str]:
            return [library, server.base_url, server.token, str(rows)]

        theirs = measure(args, python, GATHER, gather_args)
        print(
            line.format(
                name,
                f"{theirs['seconds']:.1f}",
                f"{theirs['seconds'] / ideal:.2f}x",
                f"{theirs['requests'] / rows:.2f}",
                theirs["throttled"],
                theirs["failed"],
                theirs["most_per_input"],
            )
        )
    print(f"\npeak RSS of the batch process {ours['rss_mb']:.1f} MB, journal {ours['journal_mb']:.2f} MB")


if __name__ == "__main__":
    main()
