"""A pure, incremental parser for server-sent events. No I/O: bytes in, events out.

How it works. This follows the WHATWG HTML standard, section 9.2 "Server-sent events",
"Parsing an event stream" and "Interpreting an event stream":

* bytes become text through an incremental UTF-8 decoder (invalid bytes become
  U+FFFD), so a character split across chunks survives; one leading BOM is dropped;
* lines end at CR LF, LF or CR, and nowhere else (not at U+2028, U+0085 or form feed,
  which ``str.splitlines`` would split on and so cut model output). A CR at the end of
  a chunk ends its line at once, and an LF opening the next chunk is then skipped;
* a line starting with ``:`` is a comment; ``field: value`` loses one space after
  the colon; ``data`` lines are joined with LF; ``event`` names the type (default
  ``message``); ``id`` persists across events and is ignored if it contains NUL;
  ``retry`` counts only when all ASCII digits; unknown fields are ignored;
* a blank line dispatches the event, only if some ``data`` was set.

One deliberate difference: at ``close()`` a last event that was not followed by a blank
line is dispatched rather than discarded, so a stream cut right after its final event
(a ``done`` sent without the trailing blank line) loses nothing.

Each chunk is searched once: the text of an unfinished line is kept in pieces and
joined when its end arrives, so parsing stays linear however the bytes are split.
``max_event_size`` bounds two things, both independent of how the bytes are split:
the length of any one line (field name included), and the data of one event (its
``data`` values joined). Past either, ``StreamError`` is raised.

Replicate's events are nearly always ``event:``/``id:``/one ``data:`` line. Whole
events of exactly that shape are built by a fast path (``_take_blocks``) that checks
the same bounds; a property test proves it equal to the line-by-line rules.
"""

from __future__ import annotations

import codecs
import enum
from itertools import repeat
from typing import Any, List, Optional, Union

from ._defaults import DEFAULT_MAX_EVENT_SIZE
from ._exceptions import StreamError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEParser", "ServerSentEvent"]

#: The largest ``retry:`` value kept, in milliseconds (larger ones are clamped to it).
MAX_RETRY_MILLISECONDS = 10**9


class _EventType(str, enum.Enum):
    OUTPUT = "output"
    LOGS = "logs"
    ERROR = "error"
    DONE = "done"

    def __str__(self) -> str:  # "done", not "_EventType.DONE", in print and f-strings
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


_EVENT_TYPES = {member.value: member for member in _EventType}


class ServerSentEvent:
    """One server-sent event.

    ``event`` is an ``EventType`` for Replicate's four types (a ``str`` enum, so
    ``e.event == "output"`` holds) and a plain ``str`` for any other name. ``id`` is
    the last event id seen on the stream ("" if none); ``own_id`` is True if this event
    had an ``id:`` line of its own (False if it inherited ``id``); ``retry`` is the
    reconnection delay in milliseconds if this event set one.
    """

    EventType = _EventType
    __slots__ = ("data", "event", "id", "own_id", "retry")

    def __init__(
        self,
        event: Union[_EventType, str],
        data: str,
        id: str = "",
        retry: Optional[int] = None,
        own_id: bool = True,
    ) -> None:
        self.event: Union[_EventType, str] = _EVENT_TYPES.get(event, event)
        self.data = data
        self.id = id
        self.retry = retry
        self.own_id = own_id

    def __str__(self) -> str:
        """The data of an ``output`` event; "" for any other event (as the official client)."""
        return self.data if self.event == "output" else ""

    def __repr__(self) -> str:
        event = self.event.value if isinstance(self.event, _EventType) else self.event
        return f"ServerSentEvent(event={event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (other.event, other.data, other.id, other.retry)

    __hash__ = None  # type: ignore[assignment]

    def json(self) -> Any:
        """The data decoded as JSON.

        Raises:
            StreamError: the data is not JSON.
        """
        import json

        try:
            return json.loads(self.data)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
            raise StreamError(f"{self.event!s} event data is {reason}: {self.data[:80]!r}") from None


class SSEParser:
    """Feed it bytes as they arrive; it returns the events they complete.

    ``last_event_id`` is the id to resume from (send it as ``Last-Event-ID``), and
    ``retry`` the server's last reconnection delay in milliseconds, if any.
    """

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        if isinstance(max_event_size, bool) or not isinstance(max_event_size, int):
            raise TypeError(f"max_event_size must be a whole number of characters, got {max_event_size!r}")
        if max_event_size < 1:
            raise ValueError("max_event_size must be at least 1")
        self.max_event_size = max_event_size
        self.last_event_id = ""
        self.retry: Optional[int] = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._started = False  # whether the BOM check has been done
        self._skip_lf = False  # the previous chunk ended in CR
        self._line: List[str] = []  # pieces of the unfinished line
        self._line_size = 0
        self._data: List[str] = []
        self._data_size = 0
        self._event = ""
        self._event_retry: Optional[int] = None
        self._event_id = False  # whether the event being parsed had an id line

    def fresh(self) -> SSEParser:
        """A parser for a new connection to the same stream: the last id and retry carry over."""
        parser = SSEParser(self.max_event_size)
        parser.last_event_id = self.last_event_id
        parser.retry = self.retry
        return parser

    def feed(self, chunk: bytes) -> List[ServerSentEvent]:
        """Parses ``chunk`` and returns the events it completed, in order.

        Raises:
            StreamError: an unfinished line or event grew past ``max_event_size``.
        """
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> List[ServerSentEvent]:
        """Ends the stream: returns the last event if it lacked its closing blank line."""
        events = self._feed_text(self._decoder.decode(b"", True))
        if self._line:
            self._take_line("".join(self._line), events)
            self._line = []
            self._line_size = 0
        self._take_line("", events)
        return events

    def _feed_text(self, text: str) -> List[ServerSentEvent]:
        events: List[ServerSentEvent] = []
        if not text:
            return events
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text.endswith("\r")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        position = 0
        # Inside an event (or a line): line by line until it is dispatched.
        while self._line or self._data or self._event or self._event_retry is not None or self._event_id:
            end = text.find("\n", position)
            if end == -1:
                return self._keep(text, position, events)
            line = text[position:end]
            if self._line:
                self._line.append(line)
                line = "".join(self._line)
                self._line = []
                self._line_size = 0
            self._take_line(line, events)
            position = end + 1
        # Between events: whole events, up to the last blank line, in one pass.
        end = text.rfind("\n\n", position)
        if end != -1:
            self._take_blocks(text[position:end], events)
            position = end + 2
        # What follows: complete lines of an unfinished event, then a partial line.
        end = text.rfind("\n", position)
        if end != -1:
            for line in text[position:end].split("\n"):
                self._take_line(line, events)
            position = end + 1
        return self._keep(text, position, events)

    def _keep(self, text: str, position: int, events: List[ServerSentEvent]) -> List[ServerSentEvent]:
        """Keeps ``text[position:]``, a line without its end yet, for the next chunk."""
        if position < len(text):
            tail = text[position:]
            self._line.append(tail)
            self._line_size += len(tail)
            if self._line_size > self.max_event_size:
                self._too_long()
        return events

    def _take_blocks(self, region: str, events: List[ServerSentEvent]) -> None:
        """Whole events separated by blank lines.

        The fast path: when every one is Replicate's usual ``event``/``id``/one ``data``
        line, they are checked and built with a handful of C-level passes over the region.
        """
        lines = region.split("\n")
        if (len(lines) + 1) % 4 == 0 and "\0" not in region:
            names, ids, data = lines[0::4], lines[1::4], lines[2::4]
            if (
                not any(lines[3::4])
                and all(map(str.startswith, names, repeat("event: ")))
                and all(map(str.startswith, ids, repeat("id: ")))
                and all(map(str.startswith, data, repeat("data: ")))
                and max(map(len, lines)) <= self.max_event_size
            ):
                events += [
                    ServerSentEvent(name[7:] or "message", value[6:], event_id[4:])
                    for name, event_id, value in zip(names, ids, data)
                ]
                self.last_event_id = ids[-1][4:]
                return
        for line in lines:  # any other shape: the general rules, line by line
            self._take_line(line, events)
        self._take_line("", events)

    def _too_long(self) -> None:
        raise StreamError(f"a server-sent event line exceeds max_event_size ({self.max_event_size} characters)")

    def _take_line(self, line: str, events: List[ServerSentEvent]) -> None:
        if len(line) > self.max_event_size:
            self._too_long()
        if not line:
            if self._data:
                event = ServerSentEvent(
                    self._event or "message",
                    "\n".join(self._data),
                    self.last_event_id,
                    self._event_retry,
                    self._event_id,
                )
                events.append(event)
            self._data = []
            self._data_size = 0
            self._event = ""
            self._event_retry = None
            self._event_id = False
            return
        if line[0] == ":":
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size - 1 > self.max_event_size:
                raise StreamError(
                    f"a server-sent event's data exceeds max_event_size ({self.max_event_size} characters)"
                )
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._event_id = True
        elif name == "retry":
            if value.isascii() and value.isdigit():
                # A number of hundreds of digits would overflow a float later: clamp it.
                self.retry = self._event_retry = int(value) if len(value) < 10 else MAX_RETRY_MILLISECONDS
