"""The command line: ``python -m replicate_min {run,predictions,serve-fake,demo}``.

Exit codes: 0 done, 1 a failed prediction or an API/connection error, 2 bad arguments,
130 interrupted (a running prediction is canceled on the server first). Errors are one
line on stderr: never a traceback, never the token.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from ._client import Client
from ._exceptions import ModelError, PredictionCanceledError, ReplicateError, ReplicateException, WaitTimeoutError
from ._prediction import Prediction
from ._run import output_of, parse_ref

__all__ = ["main"]


class Progress:
    """A live status line on a terminal (stderr); silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.started = time.monotonic()
        self.shown = False

    def update(self, prediction: Prediction) -> None:
        if not self.live:
            return
        line = f"{prediction.status:<10} {time.monotonic() - self.started:5.1f}s"
        progress = prediction.progress
        if progress is not None:
            filled = int(progress.percentage * 20)
            line += (
                f" [{'#' * filled}{'.' * (20 - filled)}] {progress.percentage:4.0%} {progress.current}/{progress.total}"
            )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _inputs(pairs: List[str], parser: argparse.ArgumentParser) -> Dict[str, Any]:
    inputs: Dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            parser.error(f"-i takes key=value, got {pair!r}")
        if value.startswith("@"):
            path = Path(value[1:])
            if not path.is_file():
                parser.error(f"-i {key}=@{path}: no such file")
            inputs[key] = path
            continue
        try:
            inputs[key] = json.loads(value)
        except ValueError:
            inputs[key] = value
    return inputs


def _print_output(output: Any, out: TextIO) -> None:
    if isinstance(output, str):
        print(output, file=out)
    else:
        print(json.dumps(output, indent=2, ensure_ascii=False), file=out)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    try:
        target = parse_ref(args.ref)
    except ValueError as exc:
        parser.error(str(exc))
    inputs = _inputs(args.input, parser)
    client = Client()
    progress = Progress(err)
    prediction: Optional[Prediction] = None
    deadline = None if args.timeout is None else time.monotonic() + args.timeout

    def check_deadline(prediction: Prediction) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise WaitTimeoutError(f"prediction {prediction.id} did not finish within {args.timeout:g} s", prediction)

    try:
        prediction = client.predictions.create(input=inputs, wait=args.wait or None, **target)
        if args.stream:
            for event in prediction.stream():
                if event.event == "output":
                    progress.done()
                    out.write(event.data)
                    out.flush()
                elif event.event == "logs":
                    prediction.logs = (prediction.logs or "") + event.data + "\n"
                    progress.update(prediction)
                check_deadline(prediction)
            out.write("\n")
            prediction.reload()
        while not prediction.done:
            progress.update(prediction)
            check_deadline(prediction)
            time.sleep(client.poll_interval)
            prediction.reload()
        progress.done()
        output = output_of(prediction)
    except KeyboardInterrupt:
        progress.done()
        if prediction is not None and not prediction.done:
            try:
                prediction.cancel()
                print(f"interrupted: canceled prediction {prediction.id}", file=err)
            except ReplicateException as exc:
                print(f"interrupted: could not cancel prediction {prediction.id}: {exc}", file=err)
        else:
            print("interrupted", file=err)
        return 130
    finally:
        progress.done()
        client.close()
    if args.json:
        print(json.dumps(prediction.to_dict(), indent=2, ensure_ascii=False), file=out)
    elif not args.stream:
        _print_output(output, out)
    return 0


def _predictions(args: argparse.Namespace, out: TextIO) -> int:
    from ._pagination import paginate

    client = Client()
    try:
        if args.action == "get":
            data: Any = client.predictions.get(args.id).to_dict()
        elif args.action == "cancel":
            data = client.predictions.cancel(args.id).to_dict()
        elif args.all:
            data = [p.to_dict() for page in paginate(client.predictions.list) for p in page]
        else:
            page = client.predictions.list()
            data = {"next": page.next, "previous": page.previous, "results": [p.to_dict() for p in page]}
    finally:
        client.close()
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    return 0


def _serve_fake(args: argparse.Namespace, out: TextIO) -> int:
    from .testing import FakeReplicate

    with FakeReplicate(port=args.port) as fake:
        print(f"REPLICATE_BASE_URL={fake.base_url}", file=out)
        print(f"REPLICATE_API_TOKEN={fake.token}", file=out)
        print("# a fake Replicate API; Ctrl-C stops it", file=out)
        out.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _demo(out: TextIO, err: TextIO) -> int:
    from .testing import FakeReplicate

    def say(text: str) -> None:
        print(text, file=out)
        out.flush()

    with FakeReplicate(start_delay=0.6, step=0.12) as fake:
        say(f"1. Started a fake Replicate API at {fake.base_url}: no token or network needed.")
        client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.1)
        prompt = "a standard library client streams every token the moment it is made"
        prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": prompt})
        say(f"2. Created prediction {prediction.id} over real HTTP; its status is {prediction.status!r}.")
        say("3. Waiting for the model to start (a live status line shows on a terminal):")
        progress = Progress(err)
        while prediction.status == "starting":
            progress.update(prediction)
            time.sleep(client.poll_interval)
            prediction.reload()
        progress.done()
        stream_url = (prediction.urls or {}).get("stream")
        say(f"4. It is {prediction.status!r}. Streaming its output from {stream_url}:")
        out.write("   ")
        for event in prediction.stream():
            if event.event == "output":
                out.write(event.data)
                out.flush()
        say("")
        prediction.reload()
        metrics = prediction.metrics or {}
        say(
            f"5. Finished: {prediction.status!r} after {metrics.get('total_time', 0):.1f} s, "
            f"progress {prediction.progress.percentage:.0%} by its logs."
            if prediction.progress
            else "5. Finished."
        )
        say(f"6. The same output by polling: {''.join(prediction.output)!r}")
        client.close()
    return 0 if prediction.status == "succeeded" else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m replicate_min",
        description="Run and inspect Replicate predictions. The token comes from REPLICATE_API_TOKEN.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a model and print its output", description="Run a model and print its output."
    )
    run.set_defaults(subparser=run)
    run.add_argument("ref", help="owner/name, owner/name:version, or a 64-hex version id")
    run.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input; VALUE is parsed as JSON when it parses, else taken as text; KEY=@path sends a file",
    )
    run.add_argument("--stream", action="store_true", help="print output tokens as they arrive")
    run.add_argument("--json", action="store_true", help="print the final prediction object as JSON")
    run.add_argument("--wait", type=int, metavar="N", help="hold the create request up to N seconds (1 to 60)")
    run.add_argument(
        "--timeout", type=float, metavar="S", help="give up after S seconds (the prediction keeps running)"
    )
    predictions = commands.add_parser(
        "predictions",
        help="get, list or cancel predictions",
        description="Get, list or cancel predictions; prints JSON.",
    )
    actions = predictions.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = actions.add_parser("get", help="one prediction", description="Print one prediction as JSON.")
    get.add_argument("id")
    listing = actions.add_parser(
        "list", help="your predictions, newest first", description="Print predictions as JSON."
    )
    listing.add_argument("--all", action="store_true", help="follow every page")
    cancel = actions.add_parser(
        "cancel", help="cancel a prediction", description="Cancel a prediction; prints it as JSON."
    )
    cancel.add_argument("id")
    serve = commands.add_parser(
        "serve-fake",
        help="run the bundled fake Replicate API",
        description="Run the bundled fake Replicate API until Ctrl-C.",
    )
    serve.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    commands.add_parser(
        "demo",
        help="a streamed prediction against the fake API; no token needed",
        description="A streamed prediction against the bundled fake API, step by step.",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.wait is not None and not 1 <= args.wait <= 60:
            args.subparser.error("--wait must be between 1 and 60")
        if args.timeout is not None and args.timeout <= 0:
            args.subparser.error("--timeout must be more than 0")
    try:
        if args.command == "run":
            return _run(args, args.subparser, out, err)
        if args.command == "predictions":
            return _predictions(args, out)
        if args.command == "serve-fake":
            return _serve_fake(args, out)
        return _demo(out, err)
    except ModelError as exc:
        print(f"error: prediction {exc.prediction.id} failed: {exc}", file=err)
    except PredictionCanceledError as exc:
        print(f"error: {exc}", file=err)
    except ReplicateError as exc:
        summary = " ".join(str(part) for part in (exc.status, exc.title) if part is not None)
        print(f"error: {summary}: {exc.detail}" if exc.detail else f"error: {summary}", file=err)
    except ReplicateException as exc:
        print(f"error: {exc}", file=err)
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 1
