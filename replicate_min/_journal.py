"""The batch journal: one row per input row, in SQLite, written before each step it records.

A row moves ``sending`` (committed before its create is sent) -> ``created`` (its prediction
id, committed as soon as the answer arrives) or ``failed`` (refused, so no prediction exists);
``delivered`` marks a result handed to the caller. A process killed at any moment leaves
every row in a state a resume can act on: a ``sending`` row is looked for among the account's
predictions before it is created again (``_batch.reconcile``).

WAL mode with ``synchronous=NORMAL``: a committed step survives the process being killed
(SIGKILL); a power cut may lose the last steps, which the reconciliation then repairs.
``sqlite3`` is imported here only, when a journal is opened, so neither ``import replicate_min``
nor a ``Client`` loads it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Iterator, Optional, Tuple

from ._exceptions import BatchError, JournalMismatchError

__all__ = ["Journal", "Row", "canonical_json", "input_hash", "refuse_constant"]

_FORMAT = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,
    input_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    sent_at REAL,
    prediction_id TEXT UNIQUE,
    error TEXT,
    delivered INTEGER NOT NULL DEFAULT 0
);
"""


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, no NaN (``ValueError``), text as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def refuse_constant(name: str) -> Any:
    """For ``json.loads(parse_constant=...)``: JSON has no NaN or Infinity, which Python's json reads."""
    raise ValueError(f"{name} is not a JSON number")


def input_hash(input: Any) -> str:
    """The hash a row's input is known by: SHA-256 of its :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(input).encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Row:
    """A journal row as read: ``state`` is None for a row never started."""

    __slots__ = ("delivered", "error", "index", "input_hash", "prediction_id", "sent_at", "state")

    def __init__(
        self,
        index: int,
        input_hash: str,
        state: Optional[str],
        sent_at: Optional[float],
        prediction_id: Optional[str],
        error: Optional[str],
        delivered: bool,
    ) -> None:
        self.index = index
        self.input_hash = input_hash
        self.state = state
        self.sent_at = sent_at
        self.prediction_id = prediction_id
        self.error = error
        self.delivered = delivered


def _row(values: Any) -> Row:
    index, digest, state, sent_at, prediction_id, error, delivered = values
    return Row(index, digest, state, sent_at, prediction_id, error, bool(delivered))


class Journal:
    """The journal at ``path`` (``":memory:"`` for a batch that need not resume). Thread-safe.

    Raises:
        JournalMismatchError: ``path`` is not a journal, or one of another format.
    """

    def __init__(self, path: str) -> None:
        import sqlite3  # here, not at the top: a client that never runs a batch never loads it

        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=1)
        except (sqlite3.Error, ValueError) as exc:  # (ValueError: a NUL, or a lone surrogate, in the path)
            reason = exc if isinstance(exc, sqlite3.Error) else "it is not a valid path"
            raise BatchError(f"cannot open the journal {path[:200]!r}: {reason}") from None
        try:
            # One process per journal: the first write takes a lock held until close, so a second
            # batch on the same journal is refused instead of creating every row again.
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("BEGIN EXCLUSIVE")  # the lock, now (not at the first write, seconds later)
            self._db.execute("COMMIT")
            format_ = self.meta("format")
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise BatchError(
                    f"the journal {path} is in use by another batch process: wait for it, or stop it"
                ) from None
            raise BatchError(f"cannot open the journal {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalMismatchError(f"{path} is not a batch journal ({exc})") from None
        if format_ is None:
            self.set_meta("format", _FORMAT)
        elif format_ != _FORMAT:
            self._db.close()
            raise JournalMismatchError(
                f"{path} is a batch journal of format {format_!r}; this version reads {_FORMAT!r}"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: Tuple[Any, ...]) -> None:
        import sqlite3

        with self._lock:
            try:
                self._db.execute(sql, args)  # autocommit: each step is its own transaction
            except sqlite3.IntegrityError:
                raise  # (``created`` reads it: a prediction another row holds)
            except sqlite3.Error as exc:  # a full disk, a file gone read-only: the step did not happen
                raise BatchError(f"the journal {self.path} could not be written: {exc}") from exc

    def meta(self, key: str) -> Optional[str]:
        with self._lock:
            found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def claim(self, key: str, value: str) -> None:
        """Records ``key = value`` (``value`` reads in a sentence: "model o/n", "shard 0/4"), or
        refuses a journal that holds another value for it."""
        held = self.meta(key)
        if held is None:
            self.set_meta(key, value)
        elif held != value:
            raise JournalMismatchError(
                f"the journal {self.path} is for {held}, not {value}: use another --journal file"
            )

    def row(self, index: int) -> Optional[Row]:
        with self._lock:
            found = self._db.execute(
                "SELECT row, input_hash, state, sent_at, prediction_id, error, delivered FROM rows WHERE row = ?",
                (index,),
            ).fetchone()
        return None if found is None else _row(found)

    def count_sent_since(self, since: float) -> int:
        """Rows sent (or created) at ``since`` or later: how many predictions a listing from then holds, at least."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM rows WHERE sent_at >= ?", (since,)).fetchone()[0])

    def holder_input(self, prediction_id: str) -> Optional[str]:
        """The input hash of the row that holds ``prediction_id``, if one does."""
        with self._lock:
            found = self._db.execute("SELECT input_hash FROM rows WHERE prediction_id = ?", (prediction_id,)).fetchone()
        return None if found is None else str(found[0])

    def sending(self, index: int, digest: str, sent_at: float) -> None:
        """Committed before the row's create is sent."""
        self._write(
            "INSERT INTO rows (row, input_hash, state, sent_at) VALUES (?, ?, 'sending', ?)"
            " ON CONFLICT(row) DO UPDATE SET state = 'sending', sent_at = excluded.sent_at, error = NULL",
            (index, digest, sent_at),
        )

    def created(self, index: int, prediction_id: str) -> bool:
        """Records the row's prediction; False if another row holds that prediction already."""
        import sqlite3

        try:
            self._write(
                "UPDATE rows SET state = 'created', prediction_id = ?, error = NULL WHERE row = ?",
                (prediction_id, index),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def failed(self, index: int, digest: str, error: str) -> None:
        """The row was refused (no prediction exists for it)."""
        self._write(
            "INSERT INTO rows (row, input_hash, state, error) VALUES (?, ?, 'failed', ?)"
            " ON CONFLICT(row) DO UPDATE SET state = 'failed', error = excluded.error",
            (index, digest, error),
        )

    def forget(self, index: int) -> None:
        """A ``sending`` row found to have no prediction: it is created again."""
        self._write("DELETE FROM rows WHERE row = ? AND state = 'sending'", (index,))

    def delivered(self, index: int) -> None:
        self._write("UPDATE rows SET delivered = 1 WHERE row = ?", (index,))

    def redeliver_all(self, delivered: Iterator[Tuple[int, Optional[str]]]) -> int:
        """Makes ``delivered`` (the (row, prediction id) pairs a results file holds) the only
        delivered rows, adding those the journal never heard of; returns their count."""
        count = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE rows SET delivered = 0 WHERE delivered = 1")
                for index, prediction_id in delivered:
                    self._db.execute(
                        "INSERT INTO rows (row, input_hash, state, prediction_id, delivered) VALUES (?, '', ?, ?, 1)"
                        " ON CONFLICT(row) DO UPDATE SET delivered = 1",
                        (index, "failed" if prediction_id is None else "created", prediction_id),
                    )
                    count += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return count
