"""The fake server's responses validate against Replicate's published OpenAPI document."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from replicate_min import Client
from replicate_min.testing import FakeReplicate, ManualClock

OPENAPI = json.loads((Path(__file__).parent / "data" / "replicate-openapi.json").read_text())


def _adapt(node: Any) -> Any:
    """The document says OpenAPI 3.1 but uses 3.0's ``nullable``: read it as also allowing null.

    Its ``version`` is ``oneOf`` [any string, "hidden"], which "hidden" matches twice, so a
    real "hidden" body would fail ``oneOf``; it is read as ``anyOf``, as its description means.
    """
    if isinstance(node, dict):
        node = {key: _adapt(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        if "oneOf" in node and all(option.get("type") == "string" for option in node["oneOf"]):
            node["anyOf"] = node.pop("oneOf")
        return node
    if isinstance(node, list):
        return [_adapt(item) for item in node]
    return node


COMPONENTS = _adapt(copy.deepcopy(OPENAPI["components"]))


def validate(body: Any, schema: str) -> None:
    root = {"components": COMPONENTS, "$ref": f"#/components/schemas/{schema}"}
    jsonschema.Draft202012Validator(root).validate(body)


def test_every_prediction_body_validates() -> None:
    # Time is the test's: every status is seen, however busy the machine.
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=1, step=1) as fake:
        client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0)
        bodies: list[Any] = []
        original = client.requester.request

        def recording(*args: Any, **kwargs: Any) -> Any:
            body = original(*args, **kwargs)
            bodies.append(body)
            return body

        client.requester.request = recording  # type: ignore[method-assign]
        made = [
            client.predictions.create(fake.version_of("replicate-min/tokens"), {"prompt": "a b"}),
            client.predictions.create(deployment="replicate-min/echo-deployment", input={}, cancel_after="1m"),
            client.predictions.create(model="replicate-min/fail", input={}),
            client.predictions.create(model="replicate-min/forever", input={}),
        ]
        held: list[Any] = []
        holder = threading.Thread(
            target=lambda: held.append(client.predictions.create(model="replicate-min/echo", input={}, wait=True))
        )
        holder.start()
        clock.wait_for_waiters(1)  # the held create waits on the clock
        for _ in range(4):
            clock.advance(1)
            for prediction in made:
                prediction.reload()
        holder.join(10)
        assert held and held[0].status != "starting"
        made[-1].cancel()
        page = client.predictions.list()
        client.close()
    validate(bodies.pop(), "schemas_paginated_prediction_response")
    statuses = set()
    for body in bodies:
        validate(body, "schemas_prediction_response")
        statuses.add(body["status"])
    assert statuses >= {"starting", "processing", "succeeded", "failed", "canceled"}
    assert len(page.results) == 5


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.predictions.get("missing"),
        lambda c: c.predictions.create(version="0" * 64, input={}),
        lambda c: Client(api_token="r8_bad", base_url=c.base_url).predictions.list(),
    ],
)
def test_error_bodies_are_problem_json(client: Client, fake: FakeReplicate, call: Any) -> None:
    with pytest.raises(Exception) as info:
        call(client)
    body = json.loads(info.value.body)  # type: ignore[attr-defined]
    assert set(body) == {"title", "detail", "status"} and body["status"] == info.value.status  # type: ignore[attr-defined]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_body_with_a_non_json_number_is_a_400_like_the_api(fake: FakeReplicate, constant: str) -> None:
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(fake.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port)
    body = '{"input": {"x": ' + constant + "}}"
    headers = {"Authorization": f"Bearer {fake.token}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/models/replicate-min/echo/predictions", body, headers)
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["title"]) == (400, "Invalid JSON")
    connection.close()
    assert fake.predictions_created == []
