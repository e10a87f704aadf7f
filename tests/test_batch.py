"""Client.batch (``_batch``): every row once, at most one prediction per row, 429s waited out."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import replicate_min
from replicate_min import BatchError, BatchResult, Client, JournalMismatchError
from replicate_min._batch import Gate, Pacer, parse_shard, poll_delay, settle_for
from replicate_min._journal import Journal, input_hash
from replicate_min.testing import FakeReplicate, HangAfter, ManualClock, RateLimit, input_key


def rows(count: int, start: int = 0) -> List[Dict[str, Any]]:
    return [{"prompt": f"row {i}"} for i in range(start, start + count)]


def one_prediction_per_row(fake: FakeReplicate, inputs: List[Dict[str, Any]]) -> None:
    counts = fake.creates_per_input
    assert {key: counts.get(key, 0) for key in map(input_key, inputs)} == {key: 1 for key in map(input_key, inputs)}
    assert sum(counts.values()) == len(inputs)


def check_results(results: List[BatchResult], inputs: List[Dict[str, Any]]) -> None:
    assert sorted(result.row for result in results) == list(range(len(inputs)))
    for result in results:
        assert result.status == "succeeded", result
        assert result.output == inputs[result.row]["prompt"]  # its own output, not another row's


def test_every_row_once_with_its_own_output(fake: FakeReplicate, client: Client) -> None:
    inputs = rows(25)
    with client.batch("replicate-min/echo", inputs, concurrency=4) as batch:
        results = list(batch)
    check_results(results, inputs)
    one_prediction_per_row(fake, inputs)
    assert batch.stats.done == 25 and batch.stats.failed == 0
    assert batch.stats.requests <= 25 * 1.5  # held creates return finished


def test_the_module_level_batch_uses_the_default_client(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    results = list(replicate_min.batch("replicate-min/echo", rows(3)))
    assert sorted(r.output for r in results) == ["row 0", "row 1", "row 2"]


def test_a_version_and_a_deployment_are_targets_too(fake: FakeReplicate, client: Client) -> None:
    version = fake.version_of("replicate-min/echo")
    by_version = list(client.batch(f"replicate-min/echo:{version}", rows(2)))
    by_deployment = list(client.batch(inputs=rows(2, 2), deployment="replicate-min/echo-deployment"))
    assert sorted(r.output for r in by_version + by_deployment) == [f"row {i}" for i in range(4)]


def test_a_failed_prediction_and_a_refused_row_are_results(fake: FakeReplicate, client: Client) -> None:
    fake.add_model("test/picky", lambda input: input["prompt"] if input["prompt"] != "row 1" else 1 / 0)
    fake.fail_next(status=422, method="POST", path="/v1/models/test/picky", body={"detail": "- input: bad"})
    results = {r.row: r for r in client.batch("test/picky", rows(3), concurrency=1)}
    statuses = sorted(r.status for r in results.values())
    assert statuses == ["failed", "failed", "succeeded"]
    refused = [r for r in results.values() if r.id is None]
    assert len(refused) == 1 and refused[0].error == "- input: bad"
    assert any(r.id and r.status == "failed" and "division" in (r.error or "") for r in results.values())


def test_a_long_prediction_is_followed_after_its_held_create(client: Client) -> None:
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=0, step=5) as fake:
        with Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01) as slow:
            batch = slow.batch("replicate-min/echo", rows(3), wait=1)
            done: List[BatchResult] = []
            thread = threading.Thread(target=lambda: done.extend(batch))
            thread.start()
            while len(fake.predictions_created) < 3:
                time.sleep(0.01)
            clock.advance(1)  # the holds end: the creates come back "processing"
            while batch.stats.requests < 4:  # a follow-up has been made
                time.sleep(0.01)
            clock.advance(5)
            thread.join()
    check_results(done, rows(3))


def test_closing_with_cancel_waits_for_held_creates_and_cancels_their_predictions() -> None:
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=0, step=1) as fake:
        with Client(api_token=fake.token, base_url=fake.base_url) as client:
            batch = client.batch("replicate-min/forever", rows(3), wait=5, concurrency=3, cancel_on_exit=True)
            reader = threading.Thread(target=lambda: list(batch))
            reader.start()
            while len(fake.predictions_created) < 3:  # all three creates are made, and held on the clock
                time.sleep(0.01)

            def end_the_holds_once_closing() -> None:  # the answers come after close() began
                if batch._stop.is_set():
                    clock.advance(5)

            with driving(end_the_holds_once_closing):
                batch.close()  # the predictions exist: none may be left running
            reader.join()
        assert [p.status for p in fake.predictions_created] == ["canceled"] * 3


def test_a_ctrl_c_while_closing_waits_still_closes_the_journal(tmp_path: Path) -> None:
    import os
    import signal
    import sqlite3

    clock = ManualClock()  # never advanced: the creates stay held
    with FakeReplicate(clock=clock, start_delay=0, step=1) as fake:
        with Client(api_token=fake.token, base_url=fake.base_url) as client:
            batch = client.batch("replicate-min/forever", rows(2), journal=tmp_path / "j", wait=5, cancel_on_exit=True)
            reader = threading.Thread(target=lambda: list(batch))
            reader.start()
            while len(fake.predictions_created) < 2:
                time.sleep(0.01)

            def interrupt_once_closing() -> None:
                batch._stop.wait()  # set by close()
                os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the waiting main thread

            threading.Thread(target=interrupt_once_closing).start()
            with pytest.raises(KeyboardInterrupt):
                batch.close()
            with pytest.raises(sqlite3.ProgrammingError):  # closed: the file is free for a resume
                batch.journal._db.execute("select 1")
            clock.advance(5)  # let the held creates go, so the fake can stop
            reader.join()


def test_a_long_prediction_is_looked_at_less_and_less_often() -> None:
    assert [poll_delay(followed, 0.5) for followed in (0, 1, 2, 8, 100, 10_000)] == [0.5, 0.5, 0.5, 2, 25, 30]
    looks, followed = 0, 0.0
    while followed < 600:  # ten minutes of a prediction that outlived its held create
        followed += poll_delay(followed, 0.5)
        looks += 1
    assert looks < 50  # not 1200, one per poll_interval
    assert followed < 600 * 1.25 + 30  # and its end is seen late by a quarter at most


# -- resume and reconciliation ----------------------------------------------------------


def test_a_lost_create_is_looked_for_after_twice_as_long_as_it_was_outstanding() -> None:
    # a server that took 6 s not to answer is given 12 s to record it before the row is created again
    assert [settle_for(outstanding, 5.0) for outstanding in (0, 1, 6, 60, 1000)] == [5, 5, 12, 120, 150]
    assert settle_for(0.001, 0.0) == 0.002


def test_a_closed_batch_resumes_with_the_rest(fake: FakeReplicate, client: Client, tmp_path: Path) -> None:
    inputs = rows(20)
    journal = tmp_path / "j.sqlite"
    first: List[BatchResult] = []
    with client.batch("replicate-min/echo", inputs, journal=journal, concurrency=2) as batch:
        for result in batch:
            first.append(result)
            if len(first) == 7:
                break
    second = list(client.batch("replicate-min/echo", inputs, journal=journal, concurrency=2, settle=0))
    check_results(first + second, inputs)  # every row once across the two runs
    one_prediction_per_row(fake, inputs)  # rows in flight at the close were followed, not created again


def test_a_create_whose_answer_never_came_is_found_not_created_again(
    fake: FakeReplicate, client: Client, tmp_path: Path
) -> None:
    """The kill window: the journal says "sending", the API made the prediction, the id was never
    recorded. Without the reconciliation on resume, the row would get a second prediction."""
    inputs = rows(4)
    journal = tmp_path / "j.sqlite"
    fake.inject(HangAfter(method="POST", path="/v1/models/"))  # the first create: made, never answered
    first: List[BatchResult] = []
    batch = client.batch("replicate-min/echo", inputs, journal=journal, concurrency=2)
    for result in batch:
        first.append(result)
        if len(first) == 3:
            break
    batch.close()
    assert len(fake.predictions_created) == 4
    # it was recorded: the resume's first look, at once, claims it (a settle of 150 s is never waited)
    second = list(client.batch("replicate-min/echo", inputs, journal=journal, settle=150))
    check_results(first + second, inputs)
    one_prediction_per_row(fake, inputs)


def test_each_found_prediction_is_claimed_by_one_row(fake: FakeReplicate, client: Client, tmp_path: Path) -> None:
    """Two rows with the same input, both left "sending", and one prediction of it: one row claims
    it, the other is created; a prediction the journal already holds is never claimed."""
    same = {"prompt": "same"}
    inputs = [same, same, {"prompt": "other"}]
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.claim("target", "model replicate-min/echo")
    journal.claim("shard", "shard 0/1")
    now = time.time()
    journal.sending(0, input_hash(same), now)
    journal.sending(1, input_hash(same), now)
    made = client.predictions.create(model="replicate-min/echo", input=same)
    held = client.predictions.create(model="replicate-min/echo", input={"prompt": "other"})
    journal.sending(2, input_hash({"prompt": "other"}), now)
    journal.close()
    # row 2's prediction is someone else's (another row's in another journal, say): mark it known
    journal = Journal(path)
    journal.sending(99, input_hash({"prompt": "x"}), now)
    journal.created(99, held.id)
    journal.close()
    results = {r.row: r for r in client.batch("replicate-min/echo", inputs, journal=path, settle=0)}
    assert sorted(results) == [0, 1, 2]
    ids = [results[i].id for i in range(3)]
    assert made.id in ids and held.id not in ids and len(set(ids)) == 3
    assert fake.creates_per_input[input_key(same)] == 2  # one per row


def test_an_answer_lost_mid_run_is_looked_for_before_creating_again(fake: FakeReplicate, client: Client) -> None:
    inputs = rows(5)
    fake.fail_next("drop_after", method="POST", path="/v1/models/")  # created, connection dropped
    fake.fail_next(status=500, method="POST", path="/v1/models/")  # refused before it was made
    results = list(client.batch("replicate-min/echo", inputs, concurrency=1, settle=0))
    check_results(results, inputs)
    one_prediction_per_row(fake, inputs)


def test_an_answer_whose_prediction_a_twin_claimed_is_looked_for_again(client: Client, tmp_path: Path) -> None:
    """Row 0's answer was lost; its search found the prediction of its twin row 6 (the same input),
    whose create was still held, and claimed it. Row 6's answer then names a prediction row 0
    holds: row 6 is a lost create (the twin's), never an abort; another input is a server lying."""
    from replicate_min import Prediction, ValidationError

    same = {"prompt": "same"}
    batch = client.batch("replicate-min/echo", [same] * 7, journal=tmp_path / "j")
    prediction = Prediction(id="p1", status="processing")
    batch.journal.sending(0, input_hash(same), time.time())
    assert batch.journal.created(0, "p1")
    batch.journal.sending(6, input_hash(same), time.time())
    batch._gate.acquire(threading.Event())
    batch._created(6, same, input_hash(same), prediction, time.time())
    assert [lost.index for lost in batch._uncertain] == [6] and batch._gate.in_use == 0
    batch.journal.sending(5, input_hash({"prompt": "other"}), time.time())
    with pytest.raises(ValidationError, match="another row already holds"):
        batch._created(5, {"prompt": "other"}, input_hash({"prompt": "other"}), prediction, time.time())
    batch.close()


def test_a_row_whose_creates_keep_getting_5xx_fails_once_none_was_made(fake: FakeReplicate, client: Client) -> None:
    from replicate_min.testing import ErrorStatus

    fake.inject(ErrorStatus(status=503, method="POST", times=1000))  # every create: nothing made
    [result] = list(client.batch("replicate-min/echo", rows(1), settle=0))
    assert (result.status, result.id) == ("failed", None)
    assert "answered 4 creates of this row with an error, the last: 503" in (result.error or "")
    creates = [r for r in fake.requests if r.method == "POST"]
    assert len(creates) == 4 and fake.predictions_created == []  # client.max_retries 3: 4 attempts, then it ends


def test_a_journal_of_another_batch_is_refused(fake: FakeReplicate, client: Client, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    list(client.batch("replicate-min/echo", rows(3), journal=journal))
    with pytest.raises(JournalMismatchError, match="is for model replicate-min/echo, not model replicate-min/tokens"):
        client.batch("replicate-min/tokens", rows(3), journal=journal)
    with pytest.raises(JournalMismatchError, match="is for shard 0/1, not shard 1/2"):
        client.batch("replicate-min/echo", rows(3), journal=journal, shard="1/2")
    with pytest.raises(BatchError, match="row 0's input is not the one the journal"):
        list(client.batch("replicate-min/echo", rows(3, 10), journal=journal))
    (tmp_path / "text").write_text("not a database, at all" * 100)
    with pytest.raises(JournalMismatchError, match="not a batch journal"):
        client.batch("replicate-min/echo", rows(3), journal=tmp_path / "text")
    assert len(fake.predictions_created) == 3


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"a": 1}, ["not", "an", "object"]], "row 1: an input must be a JSON object"),
        ([{"a": float("nan")}], "row 0: the input is not plain JSON"),
        ([{"a": object()}], "row 0: the input is not plain JSON"),
    ],
)
def test_a_row_that_is_not_plain_json_is_a_batch_error(client: Client, inputs: List[Any], message: str) -> None:
    with pytest.raises(BatchError, match=message):
        list(client.batch("replicate-min/echo", inputs))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"concurrency": 0}, "concurrency must be"),
        ({"concurrency": True}, "concurrency must be"),
        ({"shard": "2/2"}, "shard must be"),
        ({"shard": "1/0"}, "shard must be"),
        ({"wait": False}, "holds its creates"),
        ({"lookback": float("inf")}, "lookback"),
        ({"settle": -1}, "settle must be seconds from 0 to 150"),
        ({"settle": float("nan")}, "settle must be"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    fake: FakeReplicate, client: Client, kwargs: Dict[str, Any], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        client.batch("replicate-min/echo", rows(1), **kwargs)
    with pytest.raises(TypeError, match="iterable of input dicts"):
        client.batch("replicate-min/echo", {"prompt": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exactly one"):
        client.batch("replicate-min/echo", rows(1), deployment="a/b")
    assert fake.requests == []


def test_a_refused_batch_raises_once_instead_of_failing_every_row(fake: FakeReplicate) -> None:
    with Client(api_token="r8_wrong", base_url=fake.base_url) as wrong:
        with pytest.raises(replicate_min.ReplicateError) as caught:
            list(wrong.batch("replicate-min/echo", rows(10), concurrency=2))
    assert caught.value.status == 401
    assert len(fake.requests) <= 2


def test_shards_split_the_rows(fake: FakeReplicate, client: Client) -> None:
    inputs = rows(10)
    parts = [list(client.batch("replicate-min/echo", inputs, shard=(k, 3))) for k in range(3)]
    assert [sorted(r.row for r in part) for part in parts] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    one_prediction_per_row(fake, inputs)
    assert parse_shard("1 / 4") == (1, 4) and parse_shard(None) == (0, 1)


class Endless:
    """Rows without end, counting how many were read."""

    def __init__(self) -> None:
        self.read = 0

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        while True:
            self.read += 1
            yield {"prompt": f"row {self.read}"}


def test_rows_are_read_as_they_are_needed(fake: FakeReplicate, client: Client) -> None:
    endless = Endless()
    with client.batch("replicate-min/echo", endless, concurrency=2) as batch:
        for count, _ in enumerate(batch, 1):
            if count == 50:
                break
    assert endless.read < 50 + 2 * 2 + 64 + 10  # the reader stays at most its cap ahead


def test_a_slow_reader_of_the_results_holds_the_creates_back(fake: FakeReplicate, client: Client) -> None:
    endless = Endless()
    cap = 2 * 2 + 64  # rows read ahead of the caller, at most (concurrency 2)
    with client.batch("replicate-min/echo", endless, concurrency=2) as batch:
        next(batch)  # then the caller stops reading: the results wait for it, and so do the rows
        while batch.stats.done < cap:
            time.sleep(0.01)
        assert endless.read <= cap + 2, endless.read  # not a result queued in memory per row of the input
        assert len(fake.predictions_created) <= cap + 1


def test_a_resumed_batch_follows_an_earlier_runs_predictions_with_a_sweep(tmp_path: Path) -> None:
    from replicate_min.testing import WAIT

    release = threading.Event()

    def slow(input: Dict[str, Any]) -> Iterator[Any]:
        while not release.is_set():
            yield WAIT
        yield input["prompt"]

    inputs = rows(30)
    with FakeReplicate(start_delay=0, step=0.01) as fake:
        fake.add_model("test/slow", slow)
        with Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.05) as client:
            first = client.batch("test/slow", inputs, journal=tmp_path / "j", concurrency=30, wait=1)
            thread = threading.Thread(target=lambda: list(first))
            thread.start()
            while first.stats.created < 30:
                time.sleep(0.01)
            first.close()
            thread.join()
            resumed = client.batch("test/slow", inputs, journal=tmp_path / "j", concurrency=30)
            done: List[BatchResult] = []
            thread = threading.Thread(target=lambda: done.extend(resumed))
            thread.start()
            while resumed.stats.requests < 1:
                time.sleep(0.01)
            release.set()
            thread.join()
        assert sorted((r.row, r.output) for r in done) == [(i, [f"row {i}"]) for i in range(30)]
        one_prediction_per_row(fake, inputs)
        assert resumed.stats.requests < 15, resumed.stats.requests  # a sweep a round, not a GET per prediction


# -- rate limits ------------------------------------------------------------------------


@contextmanager
def driving(tick: Callable[[], None]) -> Iterator[None]:
    """Calls ``tick`` every 10 ms on another thread (it moves a ManualClock) while the block runs."""
    stop = threading.Event()

    def drive() -> None:
        while not stop.wait(0.01):
            tick()

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        yield
    finally:
        stop.set()
        driver.join()


def test_429s_on_creates_are_waited_out_and_never_fail_a_row() -> None:
    clock = ManualClock()
    limit = RateLimit(creates=6, reads=1000, window=1.0)
    inputs = rows(12)
    with FakeReplicate(clock=clock, start_delay=0, step=0, rate_limit=limit) as fake:
        seen = [0]

        def refill_after_each_429() -> None:  # the fake's window moves only when a 429 was sent
            if fake.throttled > seen[0]:
                seen[0] = fake.throttled
                clock.advance(1.0)

        with driving(refill_after_each_429), Client(api_token=fake.token, base_url=fake.base_url) as client:
            batch = client.batch("replicate-min/echo", inputs, concurrency=8)
            results = list(batch)
        check_results(results, inputs)
        one_prediction_per_row(fake, inputs)
        assert fake.throttled >= 1 and batch.stats.throttled == fake.throttled
        creates = [r for r in fake.requests if r.method == "POST"]
        assert len(creates) == 12 + fake.throttled  # each 429 was tried again, nothing else was


def test_429s_on_follow_ups_are_waited_out() -> None:
    clock = ManualClock()
    limit = RateLimit(creates=100, reads=1, window=1.0)
    inputs = rows(4)
    with FakeReplicate(clock=clock, start_delay=0, step=2, rate_limit=limit) as fake:
        with driving(lambda: clock.advance(0.25)):
            with Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01) as client:
                batch = client.batch("replicate-min/echo", inputs, wait=1, concurrency=4)
                results = list(batch)
        check_results(results, inputs)
        one_prediction_per_row(fake, inputs)
        assert batch.stats.throttled == fake.throttled


def test_turns_voided_by_a_pause_free_their_places() -> None:
    pacer = Pacer()
    pacer.observe(200, {"ratelimit-remaining": "0", "ratelimit-reset": "1"}, b"", now=0.0)  # 1 a second, paused to 1
    tickets = [pacer.reserve(0.0)[1] for _ in range(4)]  # four creators queue: turns at 1, 2.02, 3.04, 4.06
    assert pacer.go(tickets[0], 1.0)
    pacer.observe(200, {"ratelimit-remaining": "0", "ratelimit-reset": "1"}, b"", now=1.1, sent=1.0)  # paused to 2
    assert not pacer.go(tickets[1], 2.02)  # void: books again
    again = sorted(1.1 + pacer.reserve(1.1)[0] for _ in range(3))
    assert again == pytest.approx([2.0, 3.02, 4.04])  # from the pause's end, not behind the void turns (5.08)


def test_a_429_that_says_retry_at_once_still_pauses() -> None:
    pacer = Pacer()
    assert pacer.observe(429, {"retry-after": "0"}, b"", now=10.0) == 0.5
    assert pacer.reserve(10.0)[0] == 0.5
    pacer.observe(200, {"ratelimit-remaining": "0", "ratelimit-reset": "0"}, b"", now=20.0)
    assert pacer.reserve(20.0)[0] == 0.25


def test_the_pacer_follows_the_headers() -> None:
    pacer = Pacer()
    assert pacer.reserve(100.0)[0] == 0.0
    # 10 in a 1 s window: one every 0.102 s (the steady rate the headers show, 2% slower)
    pacer.observe(201, {"ratelimit-remaining": "9", "ratelimit-reset": "1"}, b"", 100.0)
    assert [round(pacer.reserve(100.0)[0], 3) for _ in range(3)] == [0.0, 0.102, 0.204]
    pacer = Pacer()
    pacer.observe(201, {"ratelimit-remaining": "0", "ratelimit-reset": "5"}, b"", 10.0)
    assert pacer.reserve(10.0)[0] == 5.0  # none left: wait for the window
    pacer = Pacer()
    _, ticket = pacer.reserve(0.0)
    assert pacer.observe(429, {"retry-after": "2"}, b"", 0.0) == 2.0
    assert not pacer.go(ticket, 0.1)  # booked before the pause: booked again
    delay, ticket = pacer.reserve(0.5)
    assert delay == 1.5 and pacer.go(ticket, 2.0)
    pacer = Pacer()
    body = b'{"detail":"Request was throttled. Expected available in 3 seconds."}'
    assert pacer.observe(429, {}, body, 0.0) == 3.0  # no Retry-After: the body's hint
    pacer = Pacer()
    assert pacer.observe(429, {"ratelimit-reset": "4"}, b"{}", 0.0) == 4.0  # else the reset
    assert Pacer().observe(429, {"retry-after": "99999"}, b"", 0.0) == 60.0  # capped
    assert Pacer().observe(429, {"retry-after": "nan"}, b"garbage", 0.0) == 1.0


def test_before_any_success_a_burst_of_429s_shows_the_rate() -> None:
    pacer = Pacer()
    for _ in range(30):  # 30 sent at once; the window let 10 through
        assert pacer.go(pacer.reserve(0.0)[1], 0.0)
    for _ in range(20):
        pacer.observe(429, {"retry-after": "1", "ratelimit-reset": "1"}, b"", 0.2)
    delays = [round(pacer.reserve(0.2)[0], 3) for _ in range(3)]
    assert delays == [1.0, 1.102, 1.204]  # after the pause, 10 a second (2% slower)


def test_the_gate_backs_off_on_429_and_grows_back() -> None:
    gate = Gate(100, cool_down=1.0)
    gate.throttled(10.0)
    gate.throttled(10.5)  # the same burst of 429s: one cut
    assert gate.limit == 90
    gate.throttled(11.0)
    assert gate.limit == 81
    for _ in range(30):
        gate.clean()
    assert gate.limit == 100  # one more per clean answer, never past the maximum
    for second in range(60):
        gate.throttled(100.0 + second * 2)
    assert gate.limit == 1
    stop = threading.Event()
    assert gate.acquire(stop) and gate.in_use == 1
    stop.set()
    assert not gate.acquire(stop)  # full: a stopped batch does not wait


def test_a_deployment_batch_claims_only_its_deployments_predictions(
    fake: FakeReplicate, client: Client, tmp_path: Path
) -> None:
    cat = {"prompt": "a cat"}
    other = client.predictions.create(model="replicate-min/tokens", input=cat)  # same input, another model
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.claim("target", "deployment replicate-min/echo-deployment")
    journal.claim("shard", "shard 0/1")
    journal.sending(0, input_hash(cat), time.time() - 10)
    journal.close()
    (result,) = client.batch(inputs=[cat], deployment="replicate-min/echo-deployment", journal=path)
    assert result.id != other.id and result.output == "a cat"


def test_lying_rate_headers_pause_no_longer_than_a_retry_after_may() -> None:
    pacer = Pacer()
    pacer.observe(201, {"ratelimit-remaining": "0", "ratelimit-reset": "999999"}, b"", 0.0)
    assert pacer.reserve(0.0)[0] == 60.0
    # (the spacing keeps the longest window seen, capped likewise: forgetting a lie at the next
    # refill made answers from different windows, out of order, reset the queue: measured, dropped)


def test_two_rows_with_one_input_and_a_lost_answer_get_a_prediction_each(tmp_path: Path) -> None:
    from replicate_min.testing import ErrorStatus

    with FakeReplicate(start_delay=0, step=0.5) as fake:
        fake.inject(ErrorStatus(status=503, method="POST"))
        with Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.05) as client:
            same = [{"prompt": "same"}] * 2
            results = list(client.batch("replicate-min/echo", same, journal=tmp_path / "j", concurrency=2, settle=0))
        assert sorted(r.row for r in results) == [0, 1] and len({r.id for r in results}) == 2
        assert fake.creates_per_input[input_key({"prompt": "same"})] == 2


def test_a_journal_that_cannot_be_written_is_a_batch_error_naming_it(tmp_path: Path) -> None:
    import sqlite3

    journal = Journal(str(tmp_path / "j"))
    journal.close()
    journal = Journal(str(tmp_path / "j"))
    journal._db.close()
    journal._db = sqlite3.connect(f"file:{tmp_path / 'j'}?mode=ro", uri=True, check_same_thread=False)  # (a full disk)
    with pytest.raises(BatchError, match=r"the journal .*j could not be written: attempt to write a readonly"):
        journal.sending(0, "digest", 1.0)
    journal.close()


@pytest.mark.parametrize("journal", [5, b"path", object()])
def test_a_journal_that_is_not_a_path_is_a_type_error_naming_it(journal: Any) -> None:
    with pytest.raises(TypeError, match="journal"):
        Client(api_token="r8_test").batch("replicate-min/echo", rows(1), journal=journal)


def test_the_batch_retries_by_a_retry_policy_at_least_three_times() -> None:
    client = Client(api_token="r8_test", max_retries=0, retry_backoff=0.25)
    batch = client.batch("replicate-min/echo", rows(1))
    retries = batch._retries()
    assert (retries.max_retries, retries.backoff) == (3, 0.25)
    assert [retries.backoff_delay(attempt) for attempt in (1, 2, 6)] == [0.5, 1.0, 8.0]
    batch.close()


def test_the_module_level_batch_has_the_clients_signature_without_self() -> None:
    import inspect

    method = list(inspect.signature(Client.batch).parameters.values())[1:]
    assert list(inspect.signature(replicate_min.batch).parameters.values()) == method


@pytest.mark.parametrize(
    ("keywords", "name"),
    [({"inputs": 5}, "inputs"), ({"cancel_on_exit": "yes"}, "cancel_on_exit")],
)
def test_batch_names_a_bad_argument(keywords: Dict[str, Any], name: str) -> None:
    arguments: Dict[str, Any] = {"inputs": rows(1), **keywords}
    with pytest.raises(TypeError, match=name):
        Client(api_token="r8_test").batch("replicate-min/echo", **arguments)


def test_a_row_nested_past_the_limit_is_refused_before_its_create(fake: FakeReplicate) -> None:
    deep: Any = "x"
    for _ in range(150):
        deep = [deep]
    client = Client(api_token=fake.token, base_url=fake.base_url)
    with pytest.raises(BatchError, match="nests deeper than 100 levels"):
        list(client.batch("replicate-min/echo", [{"v": deep}]))
    assert not [r for r in fake.requests if r.method == "POST"]


@pytest.mark.parametrize("journal", ["a\x00b", "\ud800"], ids=["nul", "surrogate"])
def test_a_journal_path_that_is_not_a_path_is_a_batch_error_naming_it(journal: str) -> None:
    with pytest.raises(BatchError, match="cannot open the journal"):
        Client(api_token="r8_test").batch("replicate-min/echo", rows(1), journal=journal)
