"""Async at scale: ``python bench/scale.py [--rounds N] [--official PYTHON] [--library PATH] [--max-concurrency K]``.

N concurrent calls (``asyncio.gather``) on one client, against a fake server in a process
of its own that answers every request after 200 ms (``latency=0.2``) and whose model runs
0.5 s (``start_delay=0``, ``step=0.5``: a single output is due one step after the start):

* N ``predictions.async_create``;
* N ``predictions.async_get`` of one prediction;
* N ``async_create`` + ``Prediction.async_wait`` (poll interval 0.25 s for both clients).

Each time is printed beside its ideal, the time of one call with no client overhead:
one latency for create and get; for create + wait, the end of the first poll that sees
the prediction done (create answered at 0.20 s, the model ends at 0.70 s, a poll sleeps
0.25 s and then takes 0.20 s: the poll read at 0.65 s still sees it running, the one read
at 1.10 s ends the wait). The brief's formula, latency + run time + one poll interval
(0.95 s), is a floor no polling client reaches; it is printed too.

And beside a floor measured in the same run on the same server: the same workload by a
bare HTTP/1.1 client on asyncio streams, one thread, over keep-alive connections opened
beforehand. What the floor takes over the ideal is the server's (and this machine's) cost
of N requests at once; what ours takes over the floor is the client's.

Each client runs in a process of its own (``--workload``), the official client (replicate
1.0.7) in its own venv, so none shares a GIL with the server or with another. A client
process also reports its RSS (``VmRSS`` of ``/proc/self/status``) after its first call,
before and after its N=300 calls, and its thread count after them (the first round's
process). Medians of ``--rounds``, each round a fresh process per client, interleaved.
``--library`` measures the replicate_min of another source tree (e.g. an
older commit exported with ``git archive``); ``--max-concurrency`` sets its client's
``max_concurrency`` (default: the library's). Takes about 30 s a round on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
LATENCY = 0.2
RUN_TIME = 0.5
POLL = 0.25
MODEL = "bench/half-second"
COUNTS = (1, 100, 300)
OPERATIONS = ("create", "get", "create+wait")
#: The issue's figures (seconds) for replicate_min before the client-owned workers.
BEFORE = {
    (100, "create"): 3.45,
    (100, "get"): 3.44,
    (100, "create+wait"): 7.13,
    (300, "create"): 10.14,
    (300, "get"): 10.12,
    (300, "create+wait"): 20.57,
}
#: The issue's goals (seconds).
GOALS = {
    (100, "create"): 0.35,
    (100, "get"): 0.30,
    (100, "create+wait"): 1.15,
    (300, "create"): 0.8,
    (300, "get"): 0.6,
    (300, "create+wait"): 1.6,
}


def ideal(operation: str) -> float:
    """Seconds one call takes with no client overhead (see the module's docstring)."""
    if operation != "create+wait":
        return LATENCY
    done = LATENCY + RUN_TIME  # the prediction is created when the create is answered
    answered = LATENCY
    while True:
        answered += POLL + LATENCY  # a poll reads the prediction when it is answered
        if answered >= done:
            return answered


def rss() -> int:
    """This process's resident set size in bytes (``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- the server (its own process) --------------------------------------------------------------


def serve() -> None:
    """Prints ``base_url token``, then serves until standard input closes."""
    sys.path.insert(0, str(ROOT))
    from replicate_min.testing import FakeReplicate

    fake = FakeReplicate(latency=LATENCY, start_delay=0, step=RUN_TIME, keepalive_interval=5)
    fake.add_model(MODEL, lambda input: "done")  # a single output: due one step (0.5 s) after the start
    fake.start()
    print(fake.base_url, fake.token, flush=True)
    sys.stdin.read()
    fake.stop()


# -- the workload (one process per client) ------------------------------------------------------


Operation = Callable[[], Awaitable[None]]


class Prediction:
    """What the floor client keeps of a prediction: its id and status."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.id: str = data["id"]
        self.status: str = data["status"]


class RawClient:
    """The floor: bare HTTP/1.1 on asyncio streams, on keep-alive connections opened beforehand.

    One thread, no pool bookkeeping, no retries, no checks: the least a client can do
    against this server on this machine.
    """

    def __init__(self, base_url: str, token: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = f"Host: {parts.netloc}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n"
        self.free: List[Tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, count: int) -> None:
        while len(self.free) < count:
            self.free.append(await asyncio.open_connection(self.host, self.port))

    async def request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        connection = self.free.pop() if self.free else await asyncio.open_connection(self.host, self.port)
        reader, writer = connection
        data = b"" if body is None else json.dumps(body).encode()
        extra = f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n" if body is not None else ""
        writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + data)
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer: Dict[str, Any] = json.loads(await reader.readexactly(length))
        self.free.append(connection)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: status {status}")
        return answer


def operations(kind: str, base_url: str, token: str, max_concurrency: Optional[int]) -> Dict[str, Any]:
    """``create`` (returns a prediction), ``get(id)`` and ``wait(prediction)`` on ``kind``'s client."""
    if kind == "ours":
        import replicate_min

        options: Dict[str, Any] = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
        ours = replicate_min.Client(api_token=token, base_url=base_url, poll_interval=POLL, **options)

        async def create() -> Any:
            return await ours.predictions.async_create(model=MODEL, input={"prompt": "x"})

        async def get(id: str) -> None:
            await ours.predictions.async_get(id)

        async def wait(prediction: Any) -> None:
            await prediction.async_wait()

    elif kind == "official":
        import replicate  # type: ignore[import-not-found,unused-ignore]

        theirs = replicate.Client(api_token=token, base_url=base_url)
        theirs.poll_interval = POLL

        async def create() -> Any:
            return await theirs.predictions.async_create(model=MODEL, input={"prompt": "x"})

        async def get(id: str) -> None:
            await theirs.predictions.async_get(id)

        async def wait(prediction: Any) -> None:
            await prediction.async_wait()  # sleeps poll_interval, then async_reload(), until done

    else:
        raw = RawClient(base_url, token)

        async def create() -> Any:
            return Prediction(await raw.request("POST", f"/v1/models/{MODEL}/predictions", {"input": {"prompt": "x"}}))

        async def get(id: str) -> None:
            await raw.request("GET", f"/v1/predictions/{id}")

        async def wait(prediction: Any) -> None:
            while prediction.status not in ("succeeded", "failed", "canceled"):
                await asyncio.sleep(POLL)
                prediction.status = (await raw.request("GET", f"/v1/predictions/{prediction.id}"))["status"]

        async def prepare() -> None:
            await raw.open(max(COUNTS))

        return {"create": create, "get": get, "wait": wait, "prepare": prepare}

    return {"create": create, "get": get, "wait": wait}


async def timed_gather(count: int, operation: Operation) -> Tuple[float, int]:
    """Seconds for ``count`` concurrent ``operation()``s, and how many of them raised."""
    started = time.perf_counter()
    results = await asyncio.gather(*(operation() for _ in range(count)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"# {len(errors)} of {count} calls raised, e.g. {errors[0]!r}", file=sys.stderr)
    return elapsed, len(errors)


async def workload(kind: str, base_url: str, token: str, rounds: int, max_concurrency: Optional[int]) -> Dict[str, Any]:
    measured: Dict[str, Any] = {"times": {}, "errors": {}}
    ops = operations(kind, base_url, token, max_concurrency)
    if "prepare" in ops:
        await ops["prepare"]()
    create, get, wait = ops["create"], ops["get"], ops["wait"]

    async def create_only() -> None:
        await create()

    async def create_and_wait() -> None:
        prediction = await create()
        await wait(prediction)
        if prediction.status != "succeeded":
            raise RuntimeError(f"prediction {prediction.id} ended {prediction.status}")

    prediction_id = (await create()).id  # also opens the first connection and starts the first worker
    measured["rss_start"] = rss()

    async def get_one() -> None:
        await get(prediction_id)

    functions: Dict[str, Operation] = {"create": create_only, "get": get_one, "create+wait": create_and_wait}
    for number in range(rounds):
        for count in COUNTS:
            if count == 300 and number == 0:
                measured["rss_before"] = rss()
            for operation in OPERATIONS:
                elapsed, errors = await timed_gather(count, functions[operation])
                key = f"{count} {operation}"
                measured["times"].setdefault(key, []).append(elapsed)
                measured["errors"][key] = measured["errors"].get(key, 0) + errors
                await asyncio.sleep(0.1)
            if count == 300 and number == 0:
                measured["rss_after"] = rss()
                measured["threads_after"] = threading.active_count()
    measured["rss_end"] = rss()
    return measured


def run_workload(kind: str, base_url: str, token: str, rounds: int, max_concurrency: Optional[int]) -> None:
    print(json.dumps(asyncio.run(workload(kind, base_url, token, rounds, max_concurrency))))


# -- the table ----------------------------------------------------------------------------------


def measure(
    python: str, kind: str, base_url: str, token: str, rounds: int, library: Path, max_concurrency: Optional[int]
) -> Dict[str, Any]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(library) if kind == "ours" else ""}
    for name in ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "REPLICATE_POLL_INTERVAL"):
        env.pop(name, None)
    command = [python, str(Path(__file__).resolve()), "--workload", kind, base_url, token, "--rounds", str(rounds)]
    if max_concurrency is not None:
        command += ["--max-concurrency", str(max_concurrency)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"the {kind} workload failed:\n{result.stderr}")
    sys.stderr.write(result.stderr)
    measured: Dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--official", help="the Python of a venv with replicate==1.0.7 installed")
    parser.add_argument("--library", help="the source tree whose replicate_min to measure (default: this one)")
    parser.add_argument("--max-concurrency", type=int, help="replicate_min's Client(max_concurrency=...)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workload", nargs=3, metavar=("KIND", "BASE_URL", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    if args.workload:
        kind, base_url, token = args.workload
        run_workload(kind, base_url, token, args.rounds, args.max_concurrency)
        return 0

    official = args.official
    if official is None:
        for candidate in ("/work/venv-official/bin/python", str(ROOT / "bench/.official/bin/python")):
            if Path(candidate).exists():
                official = candidate
                break
    if official and subprocess.run([official, "-c", "import replicate"], capture_output=True).returncode != 0:
        official = None
    library = Path(args.library).resolve() if args.library else ROOT
    settings = "default" if args.max_concurrency is None else str(args.max_concurrency)
    print(f"# {os.cpu_count()} cores, Python {sys.version.split()[0]}; medians of {args.rounds} interleaved rounds")
    print(f"# server: own process, latency {LATENCY} s, model run {RUN_TIME} s; poll interval {POLL} s")
    print(f"# replicate_min from {library}, max_concurrency {settings}")
    print(f"# official: {official or 'not installed (pass --official)'}")
    print("# floor: bare HTTP/1.1 on asyncio streams, keep-alive connections opened beforehand, one thread")

    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url, token = server.stdout.readline().split()
        run = functools.partial(measure, base_url=base_url, token=token, rounds=1, library=library)
        kinds = [("floor", sys.executable, None), ("ours", sys.executable, args.max_concurrency)]
        if official:
            kinds.append(("official", official, None))
        results: Dict[str, Dict[str, Any]] = {}
        for _ in range(args.rounds):  # one process per client and round, interleaved: drift hits all alike
            for kind, python, max_concurrency in kinds:
                figures = run(python, kind, max_concurrency=max_concurrency)
                if kind not in results:
                    results[kind] = figures  # its RSS figures are the first round's
                else:
                    for key, times in figures["times"].items():
                        results[kind]["times"][key] += times
                        results[kind]["errors"][key] += figures["errors"][key]
        floor, ours, theirs = results["floor"], results["ours"], results.get("official")
    finally:
        server.communicate("", timeout=60)

    def median(measured: Optional[Dict[str, Any]], key: str) -> Optional[float]:
        return statistics.median(measured["times"][key]) if measured else None

    header = ("N", "operation", "ideal", "floor", "ours", "/ideal", "/floor", "goal", "before", "official", "/ideal")
    rows: List[Tuple[str, ...]] = []
    for count in COUNTS:
        for operation in OPERATIONS:
            key = f"{count} {operation}"
            best = ideal(operation)
            time_floor = median(floor, key)
            time_ours = median(ours, key)
            time_theirs = median(theirs, key)
            assert time_ours is not None and time_floor is not None
            goal = GOALS.get((count, operation))
            errors = ours["errors"][key]
            rows.append(
                (
                    str(count),
                    operation,
                    f"{best:.2f} s",
                    f"{time_floor:.2f} s",
                    f"{time_ours:.2f} s" + (f" ({errors} errors)" if errors else ""),
                    f"{time_ours / best:.2f}x",
                    f"{time_ours / time_floor:.2f}x",
                    (f"<= {goal:.2f} s " + ("ok" if time_ours <= goal else "MISSED")) if goal else "-",
                    f"{BEFORE[(count, operation)]:.2f} s" if (count, operation) in BEFORE else "-",
                    f"{time_theirs:.2f} s" if time_theirs is not None else "-",
                    f"{time_theirs / best:.2f}x" if time_theirs is not None else "-",
                )
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    print(f"# create+wait by the brief's formula (latency + run + one poll): {LATENCY + RUN_TIME + POLL:.2f} s")
    print("# before: the issue's figures, before the client-owned workers (--library on a git archive of 89128e9^)")
    for name, measured in (("ours", ours), ("official", theirs)):
        if measured:
            growth = (measured["rss_after"] - measured["rss_before"]) / 2**20
            print(
                f"# {name} RSS: {measured['rss_start'] / 2**20:.1f} MB after its first call; "
                f"{measured['rss_before'] / 2**20:.1f} MB before the first N=300 calls, "
                f"{measured['rss_after'] / 2**20:.1f} MB after them (+{growth:.1f} MB, "
                f"{measured['threads_after']} threads); {measured['rss_end'] / 2**20:.1f} MB at the end"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"floor": floor, "ours": ours, "official": theirs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
