"""The pure SSE parser: WHATWG rules by name, every chunking, properties and fuzzing."""

from __future__ import annotations

import json
from typing import Any, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicate_min import ServerSentEvent, StreamError
from replicate_min._sse import SSEParser

Event = Tuple[str, str, str]  # (event, data, id)


def _events(events: List[ServerSentEvent]) -> List[Event]:
    return [
        (str(e.event.value if isinstance(e.event, ServerSentEvent.EventType) else e.event), e.data, e.id)
        for e in events
    ]


def feed_in(chunks: List[bytes], *, close: bool = True) -> List[Event]:
    parser = SSEParser()
    events: List[ServerSentEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    if close:
        events += parser.close()
    return _events(events)


def parse_three_ways(data: bytes, *, close: bool = True) -> List[Event]:
    """Whole, one byte at a time, and split at every offset: all must agree (h11's ``tr``)."""
    whole = feed_in([data], close=close)
    assert feed_in([data[i : i + 1] for i in range(len(data))], close=close) == whole
    for cut in range(len(data) + 1):
        assert feed_in([data[:cut], data[cut:]], close=close) == whole, cut
    return whole


# -- the examples of the WHATWG HTML standard, section 9.2.5 -----------------------


def test_spec_example_three_messages_one_of_two_lines() -> None:
    stream = (
        b"data: This is the first message.\n\n"
        b"data: This is the second message, it\ndata: has two lines.\n\n"
        b"data: This is the third message.\n\n"
    )
    assert parse_three_ways(stream) == [
        ("message", "This is the first message.", ""),
        ("message", "This is the second message, it\nhas two lines.", ""),
        ("message", "This is the third message.", ""),
    ]


def test_spec_example_event_types_add_and_remove() -> None:
    stream = b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    assert parse_three_ways(stream) == [("add", "73857293", ""), ("remove", "2153", ""), ("add", "113411", "")]


def test_spec_example_stock_ticker_multiline_data() -> None:
    assert parse_three_ways(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [("message", "YHOO\n+2\n10", "")]


def test_spec_example_comment_ids_and_a_last_event_without_blank_line() -> None:
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    spec = [("message", "first event", "1"), ("message", "second event", "")]
    assert parse_three_ways(stream, close=False) == spec  # the standard discards the unfinished third
    # ... and we dispatch it at close(), so a stream cut after its last event loses nothing.
    assert parse_three_ways(stream) == [*spec, ("message", " third event", "")]


def test_spec_example_empty_data_and_a_lone_newline() -> None:
    stream = b"data\n\ndata\ndata\n\ndata:"
    assert parse_three_ways(stream, close=False) == [("message", "", ""), ("message", "\n", "")]


def test_spec_example_one_space_after_the_colon_is_optional() -> None:
    assert parse_three_ways(b"data:test\n\ndata: test\n\n") == [("message", "test", "")] * 2


# -- each rule by name -------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
def test_lines_end_at_cr_lf_or_crlf(newline: bytes) -> None:
    stream = b"event: output" + newline + b"data: x" + newline + newline
    assert parse_three_ways(stream) == [("output", "x", "")]


def test_mixed_line_endings_and_a_crlf_split_across_chunks() -> None:
    assert feed_in([b"event: output\r", b"\ndata: x\r", b"\n\r", b"\n"]) == [("output", "x", "")]
    assert parse_three_ways(b"data: a\r\ndata: b\rdata: c\n\r\n") == [("message", "a\nb\nc", "")]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c"])
def test_no_other_character_ends_a_line(char: str) -> None:
    stream = f"event: output\ndata: a{char}b\n\n".encode()
    assert parse_three_ways(stream) == [("output", f"a{char}b", "")]


def test_a_leading_bom_is_dropped_once() -> None:
    assert parse_three_ways(b"\xef\xbb\xbfdata: x\n\n") == [("message", "x", "")]
    assert parse_three_ways(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []  # a second BOM is part of the field name


def test_utf8_split_across_chunks_survives() -> None:
    data = "data: héllo 🦙 ☃\n\n".encode()
    assert parse_three_ways(data) == [("message", "héllo 🦙 ☃", "")]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert parse_three_ways(b"data: a\xffb\n\n") == [("message", "a\ufffdb", "")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    assert parse_three_ways(b": ping\nfoo: bar\ndata: x\nDATA: y\n:\n\n") == [("message", "x", "")]


def test_a_blank_line_without_data_dispatches_nothing_and_resets_the_type() -> None:
    assert parse_three_ways(b"event: logs\n\ndata: x\n\n") == [("message", "x", "")]


def test_ids_persist_and_an_id_with_nul_is_ignored() -> None:
    stream = b"id: 7\ndata: a\n\ndata: b\n\nid: 8\x00\ndata: c\n\nid\ndata: d\n\n"
    assert parse_three_ways(stream) == [
        ("message", "a", "7"),
        ("message", "b", "7"),
        ("message", "c", "7"),
        ("message", "d", ""),
    ]


def test_retry_only_when_all_ascii_digits() -> None:
    parser = SSEParser()
    events = parser.feed(b"retry: 1500\ndata: a\n\nretry: 15x\ndata: b\n\nretry: \xc2\xb2\ndata: c\n\n")
    assert [e.retry for e in events] == [1500, None, None]
    assert parser.retry == 1500


def test_field_without_colon_is_a_field_with_empty_value() -> None:
    assert parse_three_ways(b"event\ndata\n\n") == [("message", "", "")]


def test_unknown_event_names_pass_through_as_strings() -> None:
    [event] = SSEParser().feed(b"event: brand-new\ndata: x\n\n")
    assert event.event == "brand-new" and not isinstance(event.event, ServerSentEvent.EventType)


def test_the_four_replicate_event_types_are_str_enums() -> None:
    events = SSEParser().feed(
        b"event: output\ndata: hi\n\nevent: logs\ndata: l\n\nevent: error\ndata: {}\n\nevent: done\ndata: {}\n\n"
    )
    assert [e.event for e in events] == ["output", "logs", "error", "done"]
    assert events[0].event == ServerSentEvent.EventType.OUTPUT and events[3].event is ServerSentEvent.EventType.DONE
    assert [str(e) for e in events] == ["hi", "", "", ""]
    assert events[3].json() == {}


def test_json_of_text_data_is_a_stream_error() -> None:
    with pytest.raises(StreamError, match="not JSON"):
        ServerSentEvent("output", "plain text").json()


def test_events_compare_and_repr() -> None:
    assert ServerSentEvent("output", "x", "1") == ServerSentEvent(ServerSentEvent.EventType.OUTPUT, "x", "1")
    assert ServerSentEvent("output", "x") != ServerSentEvent("logs", "x")
    assert ServerSentEvent("output", "x") != "x"
    assert repr(ServerSentEvent("output", "x", "1", 5)) == "ServerSentEvent(event='output', data='x', id='1', retry=5)"


# -- bounds --------------------------------------------------------------------------


def test_an_unfinished_line_past_the_limit_is_a_stream_error() -> None:
    parser = SSEParser(max_event_size=1000)
    parser.feed(b"data: " + b"x" * 900)
    with pytest.raises(StreamError, match="max_event_size"):
        parser.feed(b"x" * 200)


def test_an_event_of_many_lines_past_the_limit_is_a_stream_error() -> None:
    parser = SSEParser(max_event_size=1000)
    with pytest.raises(StreamError, match="max_event_size"):
        parser.feed(b"data: " + b"x" * 100 + b"\n" * 1 + (b"data: " + b"y" * 100 + b"\n") * 10)


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SSEParser(max_event_size=0)


def test_a_large_event_in_small_chunks_is_parsed_whole() -> None:
    payload = b"z" * 200_000
    parser = SSEParser()
    events: List[ServerSentEvent] = []
    stream = b"event: output\ndata: " + payload + b"\n\n"
    for i in range(0, len(stream), 7):
        events += parser.feed(stream[i : i + 7])
    assert [e.data for e in events] == [payload.decode()]


# -- properties ----------------------------------------------------------------------

_text = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=20)
_name = st.text(st.characters(blacklist_characters="\r\n:", blacklist_categories=("Cs",)), min_size=1, max_size=10)
_events_strategy = st.lists(
    st.tuples(st.one_of(st.none(), _name), st.lists(_text, min_size=1, max_size=3), st.one_of(st.none(), _text)),
    max_size=8,
)


def _serialize(events: List[Tuple[str | None, List[str], str | None]], newline: str) -> bytes:
    out = []
    for name, lines, event_id in events:
        if name is not None:
            out.append(f"event: {name}")
        out.extend(f"data: {line}" for line in lines)
        if event_id is not None:
            out.append(f"id: {event_id}")
        out.append("")
    return "".join(line + newline for line in out).encode()


@settings(max_examples=300, deadline=None)
@given(_events_strategy, st.sampled_from(["\n", "\r", "\r\n"]), st.lists(st.integers(0, 400), max_size=12))
def test_any_chunking_of_any_event_sequence_gives_the_same_events(
    events: List[Tuple[str | None, List[str], str | None]], newline: str, cuts: List[int]
) -> None:
    stream = _serialize(events, newline)
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)])]
    assert feed_in(chunks) == feed_in([stream])
    expected, last_id = [], ""
    for name, lines, event_id in events:
        last_id = event_id if event_id is not None else last_id
        expected.append((name if name is not None else "message", "\n".join(lines), last_id))
    assert feed_in([stream]) == expected


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_fuzz_raises_nothing_but_stream_error(chunks: List[bytes]) -> None:
    parser = SSEParser(max_event_size=256)
    try:
        for chunk in chunks:
            for event in parser.feed(chunk):
                assert isinstance(event.data, str) and isinstance(event.id, str)
        parser.close()
    except StreamError:
        pass


def test_error_event_data_is_json_with_detail() -> None:
    [event] = SSEParser().feed(b'event: error\ndata: {"detail": "boom"}\n\n')
    assert json.loads(event.data) == {"detail": "boom"}


def _feed_whole(chunks: List[bytes], size: int) -> Any:
    parser = SSEParser(size)
    try:
        return [(e.event, e.data, e.id, e.retry) for e in parser.feed(b"".join(chunks)) + parser.close()]
    except StreamError:
        return StreamError


def _feed_split(data: bytes, cuts: List[int], size: int) -> Any:
    parser = SSEParser(size)
    events = []
    try:
        start = 0
        for cut in [*sorted(cuts), len(data)]:
            events += parser.feed(data[start:cut])
            start = cut
        events += parser.close()
    except StreamError:
        return StreamError
    return [(e.event, e.data, e.id, e.retry) for e in events]


def test_a_value_at_the_bound_is_treated_alike_whole_and_split() -> None:
    data = b"event: output\nid: 1\ndata: 0123456789\n\n"
    for size in (10, 16, 17):
        whole = _feed_whole([data], size)
        for cut in range(1, len(data)):
            assert _feed_split(data, [cut], size) == whole, (size, cut)


_FIELDS = ("event", "id", "data")


@st.composite
def _replicate_events(draw: Any) -> tuple[bytes, int]:
    """Replicate-shaped streams: event/id/data lines in any order, any line ending, sizes near the bound."""
    bound = draw(st.integers(min_value=8, max_value=40))
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    blocks = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        order = draw(st.permutations(_FIELDS))
        lines = []
        for name in order:
            if name == "data":
                length = draw(st.integers(min_value=0, max_value=bound + 2))
                lines.append(b"data: " + b"x" * (length - 6 if length > 6 else length))
            elif name == "event":
                lines.append(b"event: " + draw(st.sampled_from([b"output", b"logs", b"done", b""])))
            else:
                lines.append(b"id: " + str(draw(st.integers(0, 10**6))).encode() + b":0")
        blocks.append(newline.join(lines) + newline + newline)
    return b"".join(blocks), bound


@settings(max_examples=300, deadline=None)
@given(_replicate_events(), st.lists(st.integers(min_value=0, max_value=4000), max_size=6))
def test_any_chunking_of_replicate_shaped_events_parses_alike(stream: tuple[bytes, int], cuts: List[int]) -> None:
    data, bound = stream
    cuts = [cut % (len(data) + 1) for cut in cuts]
    assert _feed_split(data, cuts, bound) == _feed_whole([data], bound)
    line_by_line = [data[i : i + 1] for i in range(len(data))]
    assert _feed_split(data, list(range(1, len(data))), bound) == _feed_whole(line_by_line, bound)


def test_an_event_records_whether_it_set_its_own_id() -> None:
    parser = SSEParser()
    first, second = parser.feed(b"id: 7\ndata: a\n\ndata: b\n\n")
    assert (first.id, first.own_id) == ("7", True)
    assert (second.id, second.own_id) == ("7", False)  # inherited, as WHATWG says


def test_after_a_resume_events_without_an_id_of_their_own_are_not_dropped_as_replays() -> None:
    from replicate_min._streaming import ReplayFilter

    replays = ReplayFilter()
    replays.resume("1:5")
    parser = SSEParser()
    parser.last_event_id = "1:5"  # what a resumed connection carries over
    events = parser.feed(b"event: output\ndata: more\n\nevent: done\ndata: {}\n\n")
    assert [e.event for e in replays.accept(events)] == ["output", "done"]
