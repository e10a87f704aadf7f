"""The fake's rate limits (``testing/_limits``), list filters and per-input counts: what a batch relies on."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from typing import Any, Dict, Tuple

import pytest

from replicate_min import Client
from replicate_min.testing import FakeReplicate, ManualClock, RateLimit, input_key
from replicate_min.testing._handler import parse_date_time


def get(fake: FakeReplicate, path: str) -> Tuple[int, Dict[str, str], Any]:
    request = urllib.request.Request(fake.base_url + path, headers={"Authorization": f"Bearer {fake.token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def test_the_window_throttles_with_the_apis_body_and_headers() -> None:
    clock = ManualClock()
    with FakeReplicate(clock=clock, rate_limit=RateLimit(creates=1, reads=2, window=10)) as fake:
        first = get(fake, "/v1/predictions")
        assert first[0] == 200
        assert (first[1]["ratelimit-remaining"], first[1]["ratelimit-reset"]) == ("1", "10")
        assert get(fake, "/v1/predictions")[1]["ratelimit-remaining"] == "0"
        clock.advance(3.5)
        status, headers, body = get(fake, "/v1/predictions")
        assert status == 429 and fake.throttled == 1
        assert body == {"detail": "Request was throttled. Expected available in 7 seconds.", "status": 429}
        assert headers["Retry-After"] == "7" and headers["ratelimit-remaining"] == "0"
        clock.advance(6.5)  # a new window
        assert get(fake, "/v1/predictions")[0] == 200
        with Client(api_token=fake.token, base_url=fake.base_url, max_retries=0) as client:
            client.predictions.create(model="replicate-min/echo", input={})  # creates count apart
            with pytest.raises(Exception, match="429"):
                client.predictions.create(model="replicate-min/echo", input={})


def test_no_retry_after_header_when_configured_so() -> None:
    limit = RateLimit(creates=1, reads=1, window=0.5, retry_after_header=False)
    with FakeReplicate(clock=ManualClock(), rate_limit=limit) as fake:
        assert get(fake, "/v1/predictions")[1]["ratelimit-reset"] == "0.500"
        status, headers, _ = get(fake, "/v1/predictions")
        assert status == 429 and "Retry-After" not in headers


@pytest.mark.parametrize(
    "kwargs", [{"creates": 0}, {"reads": True}, {"window": 0}, {"window": float("inf")}, {"creates": 1.5}]
)
def test_bad_rate_limits_are_refused(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RateLimit"):
        RateLimit(**kwargs)


def test_created_after_and_before_filter_the_list_and_the_links_keep_them() -> None:
    clock = ManualClock()
    with FakeReplicate(clock=clock, page_size=2) as fake:
        with Client(api_token=fake.token, base_url=fake.base_url) as client:
            made = []
            for i in range(6):
                made.append(client.predictions.create(model="replicate-min/echo", input={"i": i}))
                clock.advance(10)
            after = made[1].created_at
            before = made[5].created_at
            status, _, page = get(fake, f"/v1/predictions?created_after={after}&created_before={before}")
            assert status == 200
            assert [p["input"]["i"] for p in page["results"]] == [4, 3]  # newest first; before is exclusive
            assert "created_after=" in page["next"] and "created_before=" in page["next"]
            rest = client.predictions.list(page["next"])
            assert [p.input["i"] for p in rest.results] == [2, 1]  # after is inclusive
            assert rest.next is None
            status, _, body = get(fake, "/v1/predictions?created_after=yesterday")
            assert status == 400 and "created_after must be an ISO 8601 date-time" in body["detail"]


def test_date_times_in_iso_8601() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 250000, tzinfo=timezone.utc).timestamp()
    assert parse_date_time("2025-01-02T03:04:05.25Z") == pytest.approx(moment)
    assert parse_date_time("2025-01-02T05:04:05.25+02:00") == pytest.approx(moment)
    assert parse_date_time("2025-01-02T03:04:05.250000") == pytest.approx(moment)
    assert parse_date_time("2025-01-02T03:04Z") == pytest.approx(moment - 5.25)
    for bad in ("2025-13-01T00:00:00Z", "2025-01-01", "now", "2025-01-01T00:00:00Q"):
        assert parse_date_time(bad) is None


def test_creates_per_input_counts_predictions_by_their_input(fake: FakeReplicate, client: Client) -> None:
    for prompt in ("a", "b", "a"):
        client.predictions.create(model="replicate-min/echo", input={"prompt": prompt, "n": 1})
    assert fake.creates_per_input == {input_key({"n": 1, "prompt": "a"}): 2, input_key({"prompt": "b", "n": 1}): 1}
