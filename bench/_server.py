"""The fake server for the benchmarks, in a process of its own, with three more models.

Prints ``base_url token`` on one line, then serves until its standard input closes.
"""

from __future__ import annotations

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
    fake = FakeReplicate(start_delay=0, step=0, keepalive_interval=5)
    fake.add_model("bench/long", long)
    fake.add_model("bench/big", big)
    fake.add_model("bench/timed", timed)
    fake.start()
    print(fake.base_url, fake.token, flush=True)
    sys.stdin.read()
    fake.stop()
