"""The command line: ``python -m replicate_min demo``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional, Sequence, TextIO

from ._client import Client
from ._exceptions import ReplicateException

__all__ = ["main"]


def _demo(out: TextIO) -> int:
    from .testing import FakeReplicate

    with FakeReplicate(start_delay=0.3, step=0.15) as fake:
        print(f"1. Started a fake Replicate API at {fake.base_url} (no token or network needed).", file=out)
        client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.1)
        prompt = "a standard library client streams every token as it is made"
        prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": prompt})
        print(f"2. Created prediction {prediction.id} over real HTTP: status {prediction.status}.", file=out)
        print("3. Waiting for it, polling every 0.1 s:", file=out)
        started = time.monotonic()
        shown = None
        while not prediction.done:
            time.sleep(client.poll_interval)
            prediction.reload()
            progress = prediction.progress
            if (prediction.status, progress) != shown:
                shown = (prediction.status, progress)
                line = f"   {prediction.status:<10} {time.monotonic() - started:4.1f}s"
                if progress is not None:
                    line += f" {progress.percentage:4.0%} ({progress.current}/{progress.total})"
                print(line, file=out)
        print(f"4. Finished: {prediction.status}. Output:", file=out)
        print("   " + "".join(prediction.output), file=out)
    return 0 if prediction.status == "succeeded" else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replicate_min", description="Run Replicate predictions.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="a prediction against the bundled fake server; no token needed")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(sys.stdout)
    except ReplicateException as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover  (argparse rejects it first)
