"""``batch``: one model over the rows of a JSONL or CSV file, into a JSONL results file, resumably.

The command line of ``Client.batch``: it reads the rows (checked in one pass first, so a bad line
stops the batch before anything is created), writes one line per result as it ends, keeps the
journal beside the results, and shows progress. A rerun of the same command resumes: the rows
the results file holds are its truth (a line cut short by a kill is dropped and redone).
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, TextIO, Tuple

from ._batch import Batch, BatchResult, BatchStats
from ._cli import CLIError, _file_urls, _isatty, escape, save_outputs
from ._client import Client
from ._exceptions import BatchError, ReplicateError, ReplicateException
from ._journal import Journal, refuse_constant

__all__ = ["BATCH_EPILOG", "run_batch"]

BATCH_EPILOG = """\
rows:
  ROWS.jsonl: one JSON object per line, that row's input (blank lines are skipped).
  ROWS.csv: a header row names the inputs; values are text. A column named KEY:json is parsed
  as JSON, e.g. a header 'prompt,steps:json' and a row 'a cat,30' give {{"prompt": "a cat", "steps": 30}}.

results: one JSON line per row as it ends (completion order):
  {{"row": 0, "id": "...", "status": "succeeded", "output": ..., "error": null, "metrics": {{...}}}}
  with --output-dir, also "files": the saved outputs' paths, and "files_error" when one could not be
  saved (the row counts as not succeeded; its output has the URLs; a resume does not try again).

resume: run the same command again. Rows in RESULTS are not redone; rows with a prediction are
  followed, not created again; a row whose create was sent but not answered is looked for among
  your predictions first. The journal (default: RESULTS.journal) is what makes this safe.

exit codes: 0 every row succeeded; 1 some did not (the summary says how many); 2 bad arguments,
  unreadable rows (the line is named) or another batch's journal; 130 interrupted (resume later).

examples:
  {prog} batch replicate-min/echo --input rows.jsonl --output results.jsonl
  {prog} batch replicate-min/echo --input rows.csv --output out.jsonl --concurrency 64 --shard 0/4
"""


def _bad(message: str) -> CLIError:
    return CLIError(message, code=2)


def _csv_value(header: str, text: str, where: str) -> Tuple[str, Any]:
    if header.endswith(":json"):
        try:
            return header[: -len(":json")], json.loads(text)
        except ValueError as exc:
            raise _bad(f"{where}: column {header!r} is not valid JSON ({exc})") from None
    return header, text


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large for a JSON number")
    return value


def read_rows(path: Path) -> Iterator[Dict[str, Any]]:
    """The rows of a ``.jsonl`` or ``.csv`` file, one by one; ``CLIError`` (code 2) names a bad line."""
    name = escape(str(path))
    try:
        csv_file = path.suffix.lower() == ".csv"
        file = open(path, encoding="utf-8-sig", newline="" if csv_file else None)  # (a BOM is skipped)
    except OSError as exc:
        raise _bad(f"cannot read the rows {name}: {exc.strerror or exc}") from None
    with file:
        try:
            if path.suffix.lower() == ".csv":
                reader = csv.reader(file)
                header = next(reader, None)
                if not header or not any(header):
                    raise _bad(f"{name} has no header row (a CSV file's first row names the inputs)")
                if len(set(header)) != len(header):
                    raise _bad(f"{name} line 1: the header names a column twice")
                for values in reader:
                    where = f"{name} line {reader.line_num}"
                    if not values:
                        continue
                    if len(values) != len(header):
                        raise _bad(f"{where}: {len(values)} values for {len(header)} columns")
                    yield dict(_csv_value(key, text, where) for key, text in zip(header, values))
                return
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line, parse_constant=refuse_constant, parse_float=_finite)
                except (ValueError, RecursionError) as exc:
                    reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
                    raise _bad(f"{name} line {number}: not valid JSON ({reason})") from None
                if not isinstance(row, dict):
                    raise _bad(
                        f"{name} line {number}: a row must be a JSON object (its input), got {type(row).__name__}"
                    )
                yield row
        except UnicodeDecodeError as exc:
            raise _bad(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except csv.Error as exc:
            raise _bad(f"{name}: not valid CSV ({exc})") from None


def _count_rows(path: Path) -> int:
    count = sum(1 for _ in read_rows(path))
    if count == 0:
        raise _bad(f"{escape(str(path))} has no rows")
    return count


def _written(path: Path) -> Iterator[Tuple[int, Optional[str]]]:
    """The (row, id) of each complete line of an earlier run's results; a last line cut short by a
    kill is cut off the file. Raises ``CLIError`` for a file that is not batch results."""
    try:
        file = open(path, "r+b")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _bad(f"cannot open the results {escape(str(path))}: {exc.strerror or exc}") from None
    with file:
        offset = 0
        for number, line in enumerate(file, 1):
            if not line.endswith(b"\n"):  # the line a kill cut short: redone
                if not line.startswith(b'{"row": '):
                    raise _bad(f"{escape(str(path))} line {number} is not a batch result: is it another file?")
                file.truncate(offset)
                return
            offset += len(line)
            try:
                data = json.loads(line)
                row, ident = data["row"], data["id"]
                if isinstance(row, bool) or not isinstance(row, int) or not (ident is None or isinstance(ident, str)):
                    raise TypeError
            except (ValueError, TypeError, KeyError):
                raise _bad(
                    f"{escape(str(path))} line {number} is not a batch result: is it another command's output?"
                ) from None
            yield row, ident


def _save(client: Client, result: BatchResult, folder: Path) -> Dict[str, Any]:
    """Downloads ``result``'s file outputs into ``folder/<row>/`` (names made safe; a resume rewrites
    them): ``{"files": [paths]}``, and ``"files_error"`` if one could not be saved (the row is then
    written all the same: the URLs are in its output, and a resume does not try again)."""
    files: List[str] = []
    try:
        for path in save_outputs(client, result.output, folder / str(result.row), replace=True):
            files.append(str(path))
    except (ReplicateException, ValueError, OSError) as exc:  # (a refused connection, a file too large too)
        url = list(_file_urls(result.output))[len(files)]
        if isinstance(exc, ReplicateError) and exc.status:
            reason = f"{exc.status} {exc.detail or exc.title or ''}".strip()
        else:
            reason = str(exc) if not isinstance(exc, OSError) else f"{exc.strerror or exc}"
        return {"files": files, "files_error": f"cannot save {url[:200]}: {reason}"}
    return {"files": files}


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress:
    """One line of progress on stderr: redrawn in place on a terminal, a line every ``every`` seconds on a pipe."""

    def __init__(self, stream: TextIO, stats: BatchStats, total: int, done_before: int, every: float) -> None:
        self._stream = stream
        self._stats = stats
        self._total = total
        self._before = done_before
        self._tty = _isatty(stream)
        self._stop = threading.Event()
        self._every = 0.5 if self._tty else every
        self._thread = threading.Thread(target=self._run, name="batch-progress", daemon=True)

    def text(self) -> str:
        stats = self._stats
        elapsed = max(time.monotonic() - stats.started, 1e-9)
        done = self._before + stats.done
        left = max(self._total - done, 0)
        eta = f", ETA {_clock(elapsed / stats.done * left)}" if stats.done and left else ""
        return (
            f"{done}/{self._total} rows done, {stats.failed} failed, {stats.in_flight} in flight"
            f" | {stats.requests / elapsed:.1f} req/s, {stats.throttled} 429s waited out"
            f" | {_clock(elapsed)} elapsed{eta}"
        )

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.draw()

    def draw(self, final: bool = False) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K" + self.text() + ("\n" if final else ""))
        else:
            self._stream.write(self.text() + "\n")
        self._stream.flush()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self.draw(final=True)


def run_batch(args: Any, client: Client, err: TextIO, prog: str) -> int:
    rows_path = Path(args.input)
    results_path = Path(args.output)
    if results_path.exists() and rows_path.exists() and os.path.samefile(rows_path, results_path):
        raise _bad(f"--output {escape(str(results_path))} is the --input file: give the results a file of their own")
    journal_path = args.journal or str(results_path) + ".journal"
    total = _count_rows(rows_path)
    k, n = args.shard
    total = len(range(k, total, n))
    folder: Optional[Path] = None
    if args.output_dir:
        folder = Path(args.output_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            import tempfile

            handle, probe = tempfile.mkstemp(prefix=".replicate-batch-probe-", dir=folder)  # (O_EXCL: a new file)
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            raise _bad(f"cannot write into the output folder {escape(str(folder))}: {exc.strerror or exc}") from None
    try:
        journal = Journal(journal_path)
    except BatchError as exc:
        raise _bad(str(exc)) from None
    try:
        batch: Batch = client.batch(
            args.ref,
            read_rows(rows_path),
            deployment=args.deployment,
            journal=journal,  # type: ignore[arg-type]  # the command line passes its own open journal
            concurrency=args.concurrency,
            shard=args.shard,
            wait=args.wait,
            cancel_on_exit=args.cancel_on_exit,
            settle=args.settle,
        )
        before = journal.redeliver_all(_written(results_path))
        try:
            results = open(results_path, "a", encoding="utf-8")
        except OSError as exc:
            raise _bad(f"cannot write the results {escape(str(results_path))}: {exc.strerror or exc}") from None
        progress = Progress(err, batch.stats, total, before, every=5.0)
        progress.start()
        try:
            with results:
                for result in batch:
                    line = result.to_dict()
                    if folder is not None and result.succeeded:
                        line.update(_save(client, result, folder))
                    results.write(json.dumps(line, ensure_ascii=False) + "\n")
                    results.flush()
        except KeyboardInterrupt:
            _second_interrupt_exits_now(err)
            progress.stop()  # its last line first: what follows is not drawn over
            if args.cancel_on_exit:
                err.write(
                    "stopping: canceling the predictions in flight, once the creates still held are answered"
                    " (Ctrl-C again exits now)\n"
                )
                err.flush()
            batch.close()
            canceled = " (the running predictions were canceled)" if args.cancel_on_exit else ""
            err.write(
                f"interrupted: {before + batch.stats.done} of {total} rows are in {escape(str(results_path))}."
                f" Run the same command again to resume{canceled}.\n"
            )
            return 130
        finally:
            batch.close()
            progress.stop()
    except (BatchError, TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None
    finally:
        journal.close()
    failed_total = _failed_in(results_path)
    where = escape(str(results_path))
    if failed_total:
        err.write(f"{failed_total} of {total} rows did not succeed")
        if folder is None:
            err.write(f': see the lines of {where} whose status is not "succeeded".\n')
        else:
            err.write(f' or their files could not be saved: see the lines of {where} whose status is not "succeeded"')
            err.write(' or that have a "files_error".\n')
        return 1
    err.write(f"{'the row' if total == 1 else f'all {total} rows'} succeeded: {where}\n")
    return 0


def _second_interrupt_exits_now(err: TextIO) -> None:
    """While the batch shuts down (cancels, joins), a second Ctrl-C exits at once, cleanly: the
    journal and the results are consistent at every moment, as after a kill."""
    import signal

    def now(signum: int, frame: Any) -> None:
        err.write("interrupted again: exiting now. Run the same command again to resume.\n")
        err.flush()
        os._exit(130)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, now)


def _failed_in(path: Path) -> int:
    failed = 0
    with open(path, "rb") as file:
        for line in file:
            try:
                data = json.loads(line)
                failed += data.get("status") != "succeeded" or "files_error" in data
            except (ValueError, AttributeError):
                failed += 1
    return failed
