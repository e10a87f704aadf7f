"""The fake server for the benchmarks, in a process of its own, with three more models.

Prints ``base_url token`` on one line, then serves until its standard input closes; each line
``stats`` on standard input is answered with one JSON line of counts. Options (all optional):
``--latency S --step S --creates N --reads N --window S`` (a rate limit when ``--creates`` is given).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from replicate_min.testing import FakeReplicate


def long(input: Any) -> Iterator[str]:
    """``n`` short output tokens: the events-per-second stream."""
    for i in range(int(input.get("n", 100_000))):
        yield f"tok{i % 10} "


def big(input: Any) -> Iterator[str]:
    """``megabytes`` of output in 20 kB events: the memory stream."""
    chunk = "y" * 20_000
    for _ in range(int(input.get("megabytes", 100)) * 50):
        yield chunk


def timed(input: Any) -> str:
    time.sleep(float(input.get("seconds", 1.0)))
    return "done"


if __name__ == "__main__":
    from replicate_min.testing import RateLimit

    options = argparse.ArgumentParser()
    options.add_argument("--latency", type=float, default=0.0)
    options.add_argument("--step", type=float, default=0.0)
    options.add_argument("--creates", type=int)
    options.add_argument("--reads", type=int, default=3000)
    options.add_argument("--window", type=float, default=1.0)
    args = options.parse_args()
    limit = None if args.creates is None else RateLimit(creates=args.creates, reads=args.reads, window=args.window)
    fake = FakeReplicate(start_delay=0, step=args.step, keepalive_interval=5, latency=args.latency, rate_limit=limit)
    fake.add_model("bench/long", long)
    fake.add_model("bench/big", big)
    fake.add_model("bench/timed", timed)
    fake.start()
    print(fake.base_url, fake.token, flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            counts = fake.creates_per_input
            stats = {
                "requests": len(fake.requests),
                "throttled": fake.throttled,
                "creates": fake.creates,
                "most_per_input": max(counts.values(), default=0),
            }
            print(json.dumps(stats), flush=True)
    fake.stop()
