"""The command line: ``replicate-min`` or ``python -m replicate_min`` {run,predictions,serve-fake,demo}.

Exit codes: 0 done; 1 a failed or canceled prediction, an API or connection error, a
``--timeout`` that ran out, or a port ``serve-fake`` cannot listen on; 2 bad arguments or a
bad ``REPLICATE_*`` setting (a missing token included); 130 interrupted (a running
prediction is canceled on the server first). Every error is one line on stderr, starting
``error:``: never a traceback, never the token, and any text from the server in it has its
control characters escaped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    NoReturn,
    Optional,
    Sequence,
    Set,
    TextIO,
    Tuple,
    cast,
)

from ._client import Client
from ._create import MAX_HOLD, CreateRequest, fit_hold, parse_ref
from ._exceptions import (
    APITimeoutError,
    ModelError,
    PredictionCanceledError,
    ReplicateError,
    ReplicateException,
    WaitTimeoutError,
)
from ._prediction import Prediction, Progress, create_prediction, polling
from ._run import output_of
from ._urls import shown_url
from ._version import __version__

if TYPE_CHECKING:
    from .testing import FakeReplicate

__all__ = ["main"]

# C0 and C1 controls, DEL, the bidirectional overrides that can disguise text, and lone
# surrogates (JSON lets a server send "\ud800"; no terminal or UTF-8 pipe can take one).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape(text: str, keep: str = "") -> str:
    """``text`` with control characters (other than those in ``keep``) written as escapes."""

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _UNSAFE.sub(replace, text)


_SURROGATES = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """``text`` for a pipe: as sent, but a lone surrogate (which no UTF-8 stream can carry) escaped."""
    return _SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _json_text(data: Any) -> str:
    """Pretty JSON in which no control character is left raw (C1 ones included)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)  # C0 controls in strings are escaped already
    return _UNSAFE.sub(lambda m: m.group() if m.group() == "\n" else f"\\u{ord(m.group()):04x}", text)


class CLIError(Exception):
    """An error the CLI reports as one line, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class StatusLine:
    """The live status line: on stderr only when stderr is a terminal, and never over output.

    ``hide()`` erases it for good (used once text starts streaming); ``done()`` erases it.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = _isatty(stream)
        self.started = time.monotonic()
        self.shown = False
        self.hidden = False

    def update(self, prediction: Prediction, progress: Optional[Progress] = None) -> None:
        """Redraws the line; ``progress`` (else the prediction's, parsed from all its logs) fills the bar."""
        if not self.live or self.hidden:
            return
        line = f"{escape(str(prediction.status)):<10} {time.monotonic() - self.started:5.1f}s"
        if progress is None:
            progress = prediction.progress
        if progress is not None:
            filled = max(0, min(20, int(progress.percentage * 20)))
            line += (
                f" [{'#' * filled}{'.' * (20 - filled)}] {progress.percentage:4.0%} {progress.current}/{progress.total}"
            )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def hide(self) -> None:
        self.done()
        self.hidden = True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class TimeoutGuard:
    """Enforces ``--timeout`` whatever the server does: on expiry it closes the open stream.

    ``EventStream.close()`` is safe from any thread, so a stream that hangs with nothing
    to read ends at the deadline.
    """

    def __init__(self, seconds: Optional[float]) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._closable: Any = None
        self._timer: Optional[threading.Timer] = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self.expired.set()
            closable = self._closable
        if closable is not None:
            closable.close()

    def watch(self, closable: Any) -> None:
        with self._lock:
            self._closable = closable
            expired = self.expired.is_set()
        if expired:
            closable.close()

    def remaining(self) -> Optional[float]:
        return None if self.deadline is None else self.deadline - time.monotonic()

    @contextmanager
    def bounding(self, error: Callable[[], CLIError]) -> Iterator[None]:
        """A call bounded by the deadline: its ``APITimeoutError``, once the deadline has
        passed, leaves as ``error()``; one before it (the read timeout's) as it is."""
        try:
            yield
        except APITimeoutError:
            if not self.over():
                raise
            raise error() from None

    def over(self) -> bool:
        remaining = self.remaining()
        return self.expired.is_set() or (remaining is not None and remaining <= 0)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: ``error: ... (see PROG --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {escape(message)} (see '{self.prog} --help')\n")


def _usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.error(message)


def _value(key: str, text: str, parser: argparse.ArgumentParser) -> Any:
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            _usage_error(parser, f"-i {key}=@{path}: no such file")
        return path

    def no_constants(name: str) -> Any:
        raise ValueError(name)  # NaN and Infinity are not JSON: the value is text

    def finite(number: str) -> float:
        value = float(number)
        if not math.isfinite(value):
            _usage_error(parser, f"-i {key}={text}: {number} is too large for a JSON number")
        return value

    try:
        return json.loads(text, parse_constant=no_constants, parse_float=finite)
    except ValueError:
        return text


def _inputs(pairs: List[str], parser: argparse.ArgumentParser) -> Dict[str, Any]:
    inputs: Dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            _usage_error(parser, f"-i takes key=value, got {pair!r}")
        if key in inputs:
            _usage_error(parser, f"-i {key} is given twice; pass a list as JSON instead: -i '{key}=[...]'")
        inputs[key] = _value(key, value, parser)
    return inputs


def _config(need_token: bool = True) -> Client:
    """A client from the environment, with one-line errors (exit 2) for bad settings."""
    poll = os.environ.get("REPLICATE_POLL_INTERVAL")
    poll_interval: Optional[float] = None
    if poll:
        try:
            poll_interval = float(poll)
        except ValueError:
            poll_interval = math.nan
        if not (math.isfinite(poll_interval) and poll_interval > 0):
            raise CLIError(f"REPLICATE_POLL_INTERVAL must be a number of seconds above 0, got {poll!r}", 2)
    base_url = os.environ.get("REPLICATE_BASE_URL") or None
    try:
        client = Client(base_url=base_url, poll_interval=poll_interval)
    except (ValueError, TypeError):
        shown = shown_url(base_url)
        raise CLIError(
            f"REPLICATE_BASE_URL must be an https:// URL (plain http:// only to this machine), got {shown}", 2
        ) from None
    if need_token and not os.environ.get("REPLICATE_API_TOKEN"):
        client.close()
        raise CLIError(
            "no API token: set REPLICATE_API_TOKEN (create one at https://replicate.com/account/api-tokens),"
            f" or try it offline against '{_prog()} serve-fake'",
            2,
        )
    return client


def _print_output(output: Any, out: TextIO) -> None:
    if isinstance(output, str):
        print(escape(output, keep="\n\t") if _isatty(out) else encodable(output), file=out)
    else:
        print(_json_text(output), file=out)


def _file_urls(output: Any) -> Iterator[str]:
    if isinstance(output, str):
        if output.startswith(("https://", "http://", "data:")):
            yield output
    elif isinstance(output, list):
        for item in output:
            yield from _file_urls(item)
    elif isinstance(output, dict):
        for item in output.values():
            yield from _file_urls(item)


def _file_name(url: str, index: int) -> str:
    import mimetypes

    if url.startswith("data:"):
        mime = url[5:].split(",", 1)[0].split(";", 1)[0] or "text/plain"
        return f"output-{index}{mimetypes.guess_extension(mime) or ''}"
    from urllib.parse import unquote, urlsplit

    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    if len(name) > 200:  # cut the stem, keep the extension
        stem, dot, suffix = name.partition(".")
        suffix = (dot + suffix)[:40]
        name = stem[: 200 - len(suffix)] + suffix
    return name or f"output-{index}"


def output_names(urls: List[str]) -> List[str]:
    """A safe file name for each URL, no two alike (nor alike but for case, for case-insensitive disks)."""
    names: List[str] = []
    used: Set[str] = set()
    tried: Dict[str, int] = {}  # the last suffix tried per name: n outputs of one name cost n, not n^2
    for index, url in enumerate(urls):
        name = _file_name(url, index)
        stem, dot, suffix = name.partition(".")
        key = name.casefold()
        attempt = tried.get(key, 0)
        while name.casefold() in used:
            attempt += 1
            name = f"{stem}-{attempt}{dot}{suffix}"
        tried[key] = attempt
        used.add(name.casefold())
        names.append(name)
    return names


def save_outputs(client: Client, output: Any, folder: Path, *, replace: bool) -> Iterator[Path]:
    """Downloads every URL in ``output`` into ``folder`` (``data:`` URLs decoded), yielding each path as
    it is saved. ``replace``: a file of the same name is replaced (atomically); else a new name is
    found. Raises what ``Client.download`` raises, and ``OSError``."""
    urls = list(_file_urls(output))
    if not urls:
        return
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink():
        raise OSError(f"{folder} is a link: refusing to write through it")
    for url, name in zip(urls, output_names(urls)):
        data = client.download(url)
        if replace:
            temporary = folder / f".{name}.part"
            temporary.unlink(missing_ok=True)
            try:
                with open(temporary, "xb") as file:  # never through a link left in its place
                    file.write(data)
            except BaseException:
                temporary.unlink(missing_ok=True)  # (a half-written file would eat a full disk's last space)
                raise
            path = folder / name
            os.replace(temporary, path)
            yield path
            continue
        stem, dot, suffix = name.partition(".")
        attempt = 0
        while True:
            path = folder / (name if attempt == 0 else f"{stem}-{attempt}{dot}{suffix}")
            try:
                with open(path, "xb") as file:
                    file.write(data)
                break
            except FileExistsError:
                attempt += 1
        yield path


def _timeout_error(prediction: Prediction, seconds: Optional[float], prog: str) -> CLIError:
    return CLIError(
        f"prediction {prediction.id} did not finish within {seconds or 0:g} s; it is still running: "
        f"cancel it with '{prog} predictions cancel {prediction.id}'"
    )


def _stream(prediction: Prediction, watchdog: TimeoutGuard, status: StatusLine, text: TextIO) -> bool:
    """Copies the output events' text to ``text``; the status line gives way to it. True if it wrote."""
    stream = prediction.stream()
    watchdog.watch(stream)
    wrote = False
    terminal = _isatty(text)
    # Log lines are kept as a list and joined once: rebuilding prediction.logs for every event
    # (and parsing all of it for the bar) made 16 MB of logs take 43 s. The bar reads each event's
    # own lines, and keeps the last progress seen.
    logs: List[str] = [] if prediction.logs is None else [prediction.logs]
    progress: Optional[Progress] = None
    try:
        for event in stream:
            if event.event == "output":
                status.hide()
                text.write(escape(event.data, keep="\n\t") if terminal else encodable(event.data))
                text.flush()
                wrote = True
            elif event.event == "logs":
                if prediction.status == "starting":  # it logs, so it runs
                    prediction.status = "processing"
                logs.append(event.data + "\n")
                progress = Progress.parse(event.data) or progress
                status.update(prediction, progress)
    except Exception:
        if not watchdog.expired.is_set():
            raise  # a stream closed under its reader may end in any error: the watchdog's is expected
    finally:
        stream.close()
        if logs:
            prediction.logs = "".join(logs)
        if wrote:
            text.write("\n")
            text.flush()
    return wrote


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO, prog: str) -> int:
    if (args.ref is None) == (args.deployment is None):
        _usage_error(parser, "give a model reference or --deployment owner/name (one of them)")
    if args.no_wait and (args.stream or args.output_dir or args.timeout is not None):
        _usage_error(parser, "--no-wait cannot be combined with --stream, --output-dir or --timeout")
    target: Dict[str, Any]
    if args.deployment is not None:
        target = {"deployment": args.deployment}
    else:
        try:
            target = parse_ref(args.ref)
        except ValueError as exc:
            _usage_error(parser, str(exc))
    inputs = _inputs(args.input, parser)
    client = _config()
    status = StatusLine(err)
    prediction: Optional[Prediction] = None
    watchdog = TimeoutGuard(args.timeout)
    hold = fit_hold(args.wait, args.timeout)  # the hold fits inside the deadline
    try:
        from ._files import encode_files  # (not at import: most commands send no files)

        within = f"within {args.timeout or 0:g} s"
        try:
            request = CreateRequest(input=inputs, wait=hold, **target)
            # The files first, so that a --timeout during their upload is told apart from one
            # during the create; both are bounded by it, and the create's hold fits inside it.
            with watchdog.bounding(
                lambda: CLIError(f"the input files were not uploaded {within}; no prediction was made")
            ):
                request = replace(request, input=encode_files(inputs, client.requester, None, watchdog.deadline))
            may_exist = f"a prediction may have been made: look for it with '{prog} predictions list'"
            with watchdog.bounding(lambda: CLIError(f"the create did not answer {within}; {may_exist}")):
                prediction = create_prediction(client.requester, request, watchdog.deadline)
        except (ValueError, TypeError) as exc:
            raise CLIError(str(exc), 2) from None
        if args.no_wait:
            print(_json_text(prediction.to_dict()) if args.json else prediction.id, file=out)
            return 0

        def reload() -> None:  # each poll is bounded by --timeout too
            assert prediction is not None
            with watchdog.bounding(lambda: _timeout_error(prediction, args.timeout, prog)):
                prediction._reload(watchdog.deadline)

        def poll_until(finished: Callable[[Prediction], bool]) -> None:
            assert prediction is not None
            try:
                for delay in polling(prediction, watchdog.deadline, until=finished):  # the one polling loop
                    status.update(prediction)
                    time.sleep(delay)
                    reload()
            except WaitTimeoutError:
                raise _timeout_error(prediction, args.timeout, prog) from None
            status.update(prediction)

        streamed = False
        if args.stream:  # the status line shows the real status until the text starts
            poll_until(lambda p: p.status != "starting")
            if not prediction.done and (prediction.urls or {}).get("stream"):  # else: poll
                streamed = _stream(prediction, watchdog, status, err if args.json else out)
                if watchdog.over():
                    raise _timeout_error(prediction, args.timeout, prog)
                reload()
        poll_until(lambda p: p.done)
        status.done()
        if args.json:
            print(_json_text(prediction.to_dict()), file=out)
        output = output_of(prediction)  # raises for failed, canceled, aborted
        if args.output_dir is not None:
            for path in save_outputs(client, output, Path(args.output_dir), replace=False):
                print(f"saved {escape(str(path))}", file=err)
        if args.stream and not streamed and output is not None:  # it finished before its stream opened
            if isinstance(output, list) and all(isinstance(item, str) for item in output):
                output = "".join(output)
            _print_output(output, err if args.json else out)
        elif not args.json and not args.stream:
            _print_output(output, out)
        return 0
    except KeyboardInterrupt:
        status.done()
        if prediction is not None and not prediction.done:
            try:
                prediction.cancel()
                print(f"interrupted: canceled prediction {prediction.id}", file=err)
            except ReplicateException as exc:
                print(f"interrupted: could not cancel prediction {prediction.id}: {escape(str(exc))}", file=err)
        else:
            print("interrupted", file=err)
        return 130
    finally:
        watchdog.stop()
        status.done()
        client.close()


def _table(predictions: List[Dict[str, Any]], out: TextIO) -> None:
    rows = [["ID", "STATUS", "CREATED", "MODEL"]]
    for p in predictions:
        model = p.get("model") or (p.get("version") or "")[:12]
        created = str(p.get("created_at") or "")[:19].replace("T", " ")
        rows.append([escape(str(value)) for value in (p.get("id"), p.get("status"), created, model)])
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3], file=out)


def _predictions(args: argparse.Namespace, out: TextIO) -> int:
    client = _config()
    try:
        if args.action in ("get", "cancel") and not args.id:
            raise CLIError("the prediction id is empty", 2)
        if args.action == "get":
            data: Any = client.predictions.get(args.id).to_dict()
        elif args.action == "cancel":
            data = client.predictions.cancel(args.id).to_dict()
        else:
            from ._pagination import CursorGuard

            data = []
            guard = CursorGuard()
            page = client.predictions.list()
            while True:
                data += [p.to_dict() for p in page][: None if args.limit is None else args.limit - len(data)]
                if not page.next or (args.limit is None and not args.all) or len(data) == args.limit:
                    break
                page = client.predictions.list(guard.next_of(page))
            if _isatty(out) and not args.json:
                _table(data, out)
                return 0
    finally:
        client.close()
    print(_json_text(data), file=out)
    return 0


def _fake_server(command: str) -> type[FakeReplicate]:
    """The fake server's class, or a clear ``CLIError`` where this copy was bundled without it."""
    try:
        from .testing import FakeReplicate
    except ImportError:
        raise CLIError(
            f"{command} needs the fake server, which this copy was bundled without (bundle --no-testing):"
            " run it from a checkout or a full install"
        ) from None
    return FakeReplicate


def _serve_fake(args: argparse.Namespace, out: TextIO) -> int:
    import shlex

    fake = _fake_server("serve-fake")(port=args.port, token=args.token)
    try:
        fake.start()
    except OSError as exc:
        raise CLIError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    try:
        print(f"export REPLICATE_BASE_URL={shlex.quote(fake.base_url)}", file=out)
        print(f"export REPLICATE_API_TOKEN={shlex.quote(fake.token)}", file=out)
        print(
            "# A fake Replicate API until Ctrl-C. Models: replicate-min/echo, replicate-min/tokens,"
            " replicate-min/fail, replicate-min/forever; deployment replicate-min/echo-deployment.",
            file=out,
        )
        out.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        fake.stop()


def _demo(out: TextIO, err: TextIO) -> int:
    FakeReplicate = _fake_server("demo")

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
        progress = StatusLine(err)
        for delay in polling(prediction, None, until=lambda p: p.status != "starting"):
            progress.update(prediction)
            time.sleep(delay)
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


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def _token(text: str) -> str:
    if not re.fullmatch(r"[!-~]{1,200}", text):
        raise argparse.ArgumentTypeError("a token is 1 to 200 visible ASCII characters")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def _hold_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not 1 <= value <= MAX_HOLD:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_HOLD}, got {value}")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _shard(text: str) -> Tuple[int, int]:
    from ._batch import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _batch_epilog(prog: str) -> str:
    from ._cli_batch import BATCH_EPILOG

    return BATCH_EPILOG.format(prog=prog)


def _command(path: str) -> str:
    """``path`` as a command to paste in the same shell: its bare name if that is what PATH finds."""
    import shutil

    name = os.path.basename(path)
    found = shutil.which(name)
    same = found is not None and os.path.realpath(found) == os.path.realpath(shutil.which(path) or path)
    return name if same or os.sep not in path else path


def _prog() -> str:
    """How we were invoked, as a command to paste: the console script (its path unless PATH finds
    it), or ``PYTHON -m replicate_min`` with the interpreter as it was typed (a vendored copy's name)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name.lower().endswith(".exe"):
        name = name[:-4]
    if not name or name in ("__main__.py", "-m", "-c") or name.endswith(".py"):
        package = __name__.rpartition(".")[0] or "replicate_min"  # a vendored copy's own name
        typed = getattr(sys, "orig_argv", [sys.executable])[0] or sys.executable  # (orig_argv: 3.10+)
        return f"{_command(typed)} -m {package}"
    return _command(sys.argv[0])


_EPILOG = """\
examples (try them against '{prog} serve-fake'):
  {prog} run replicate-min/echo -i prompt="hello"
  {prog} run replicate-min/tokens -i prompt="one two three" --stream
  {prog} predictions list --limit 5

environment: REPLICATE_API_TOKEN (required), REPLICATE_BASE_URL, REPLICATE_POLL_INTERVAL.
exit codes: 0 done; 1 failed or canceled prediction, API or connection error, --timeout ran out;
  2 bad arguments or a bad REPLICATE_* setting; 130 interrupted (the running prediction is canceled).
"""

_RUN_EPILOG = """\
inputs (-i KEY=VALUE, once per key):
  VALUE is JSON when it parses as JSON (5, true, [1,2], {{"a":1}}), else text (hello, NaN).
  KEY=@path sends the file at path (inline as a data: URL up to 256 KB, uploaded above).
  Text that starts with @ or would parse as JSON: quote it as a JSON string, e.g. -i 'name="@me"' or -i 'n="5"'.

examples:
  {prog} run replicate-min/echo -i prompt=hello
  {prog} run replicate-min/tokens -i prompt="a b c" --stream
  {prog} run replicate-min/echo -i prompt=@notes.txt --output-dir out/
  {prog} run --deployment replicate-min/echo-deployment -i prompt=hi --json
  {prog} run replicate-min/forever --no-wait        # prints the new prediction's id
"""


def _parser(prog: str) -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=prog,
        description="Run and inspect Replicate predictions. The token comes from REPLICATE_API_TOKEN.",
        epilog=_EPILOG.format(prog=prog),
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"replicate-min {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run a model and print its output",
        description="Run a model and print its output (text as is, anything else as JSON).",
        epilog=_RUN_EPILOG.format(prog=prog),
        formatter_class=formatter,
    )
    run.set_defaults(subparser=run)
    run.add_argument("ref", nargs="?", help="owner/name, owner/name:version, or a 64-hex version id")
    run.add_argument("--deployment", metavar="OWNER/NAME", help="run this deployment instead of a model reference")
    run.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input: JSON if it parses, else text; KEY=@path sends a file (see below)",
    )
    run.add_argument(
        "--stream",
        action="store_true",
        help="print output text as it arrives (with --json, the text goes to stderr and the JSON to stdout)",
    )
    run.add_argument(
        "--json", action="store_true", help="print the final prediction as JSON (also when it failed: exit 1)"
    )
    run.add_argument("--no-wait", action="store_true", help="create the prediction, print its id and exit")
    run.add_argument("--output-dir", metavar="DIR", help="save file outputs (URLs, data: URLs) into DIR")
    run.add_argument(
        "--wait", type=_hold_seconds, metavar="N", help=f"hold the create request up to N seconds (1 to {MAX_HOLD})"
    )
    run.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="stop waiting after S seconds, streaming or not; the prediction keeps running (exit 1)",
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
        "list",
        help="your predictions, newest first",
        description="Print predictions, newest first: a JSON array, or a table on a terminal.",
    )
    listing.add_argument("--all", action="store_true", help="follow every page (default: the first page)")
    listing.add_argument("--limit", type=_limit, metavar="N", help="at most N predictions, following pages as needed")
    listing.add_argument("--json", action="store_true", help="JSON even on a terminal")
    cancel = actions.add_parser(
        "cancel", help="cancel a prediction", description="Cancel a prediction; prints it as JSON."
    )
    cancel.add_argument("id")
    serve = commands.add_parser(
        "serve-fake",
        help="run the bundled fake Replicate API",
        description=(
            "Run the bundled fake Replicate API until Ctrl-C. It prints 'export' lines for your shell: "
            'run it in the background with its output in a file, then eval "$(cat FILE)".'
        ),
    )
    serve.add_argument("--port", type=_port, default=0, help="the port (default: a free one)")
    serve.add_argument("--token", type=_token, help="the API token it accepts (default: a random one)")
    from ._defaults import DEFAULT_BATCH_CONCURRENCY, DEFAULT_BATCH_SETTLE

    batch = commands.add_parser(
        "batch",
        help="run a model over every row of a JSONL or CSV file, resumably",
        description=(
            "Run a model once per row of ROWS (JSONL, or CSV with a header) into RESULTS (one JSON line per row),"
            " at most one prediction per row even if killed: rerun the same command to resume."
        ),
        epilog=_batch_epilog(prog),
        formatter_class=formatter,
    )
    batch.set_defaults(subparser=batch)
    batch.add_argument("ref", nargs="?", help="owner/name, owner/name:version, or a 64-hex version id")
    batch.add_argument("--deployment", metavar="OWNER/NAME", help="run this deployment instead of a model reference")
    batch.add_argument("--input", required=True, metavar="ROWS", help="the rows: a .jsonl or .csv file")
    batch.add_argument("--output", required=True, metavar="RESULTS", help="the results file (JSONL), appended to")
    batch.add_argument("--journal", metavar="FILE", help="the journal (SQLite; default: RESULTS.journal)")
    batch.add_argument(
        "--concurrency",
        type=_limit,
        default=DEFAULT_BATCH_CONCURRENCY,
        metavar="N",
        help=f"predictions running at once (default {DEFAULT_BATCH_CONCURRENCY}; it adapts down on 429)",
    )
    batch.add_argument(
        "--shard", type=_shard, default=(0, 1), metavar="K/N", help="only the rows whose index %% N == K"
    )
    batch.add_argument("--output-dir", metavar="DIR", help="save file outputs into DIR/<row>/")
    batch.add_argument(
        "--wait",
        type=_hold_seconds,
        default=MAX_HOLD,
        metavar="N",
        help=f"hold each create up to N seconds (default {MAX_HOLD})",
    )
    batch.add_argument("--cancel-on-exit", action="store_true", help="on Ctrl-C, also cancel the predictions in flight")
    batch.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_BATCH_SETTLE,
        metavar="S",
        help=f"seconds a create whose answer was lost waits before it is looked for (default {DEFAULT_BATCH_SETTLE:g})",
    )
    bundle = commands.add_parser(
        "bundle",
        help="write this package as a zip with compiled bytecode, for serverless cold starts",
        description=(
            "Write this package to OUT.zip with each module's bytecode for this Python beside its source, "
            "so that importing it from the zip compiles nothing. Build it with the Python that will run it."
        ),
    )
    bundle.add_argument("out", type=Path, metavar="OUT.zip")
    bundle.add_argument("--no-testing", action="store_true", help="leave out the fake server (testing/)")
    commands.add_parser(
        "demo",
        help="a streamed prediction against the fake API; no token needed",
        description="A streamed prediction against the bundled fake API, step by step.",
    )
    return parser


def main(
    argv: Optional[Sequence[str]] = None,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
    prog: Optional[str] = None,
) -> int:
    # typeshed types sys.stdout as possibly None (no console): the command line has one
    out = out if out is not None else cast(TextIO, sys.stdout)
    err = err if err is not None else cast(TextIO, sys.stderr)
    return _main(argv, out, err, prog or _prog())


def _main(argv: Optional[Sequence[str]], out: TextIO, err: TextIO, prog: str) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 0
    token = os.environ.get("REPLICATE_API_TOKEN") or ""

    def fail(message: str, code: int = 1) -> int:
        text = escape(message)
        if len(token) >= 4:
            text = text.replace(token, "***")
        print(f"error: {text}", file=err)
        return code

    try:
        if args.command == "run":
            return _run(args, args.subparser, out, err, prog)
        if args.command == "predictions":
            return _predictions(args, out)
        if args.command == "serve-fake":
            return _serve_fake(args, out)
        if args.command == "batch":
            from ._cli_batch import run_batch

            if (args.ref is None) == (args.deployment is None):
                _usage_error(args.subparser, "give a model reference or --deployment, not both")
            with _config() as client:
                return run_batch(args, client, err, prog)
        if args.command == "bundle":
            from ._bundle import bundle

            try:
                written = bundle(args.out, with_testing=not args.no_testing)
            except ValueError as exc:
                raise CLIError(str(exc)) from None
            except OSError as exc:
                raise CLIError(f"could not write {args.out}: {exc.strerror or exc}") from None
            print(
                f"wrote {escape(str(args.out))} ({len(written) // 2} modules with bytecode for this Python)", file=out
            )
            return 0
        return _demo(out, err)
    except CLIError as exc:
        return fail(str(exc), exc.code)
    except ModelError as exc:
        return fail(f"prediction {exc.prediction.id} failed: {exc}")
    except PredictionCanceledError as exc:
        return fail(str(exc))
    except ReplicateError as exc:
        summary = " ".join(str(part) for part in (exc.status, exc.title) if part is not None)
        return fail(f"{summary}: {exc.detail}" if exc.detail else summary)
    except ReplicateException as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        return fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except Exception as exc:  # a bug: still one line, never a traceback
        return fail(f"unexpected {type(exc).__name__}: {exc}")
