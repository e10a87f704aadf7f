"""The same program under the official replicate==1.0.7 client and under replicate_min (tox env `official`).

Each test is one program written for the official client, run twice: with ``replicate`` and
with ``replicate_min`` in its place. They must give the same observable result. Where the
two clients differ on purpose (replicate_min checks the timestamp by default, accepts bytes
bodies and ``str`` secrets, returns ``True``), the programs below do not depend on it.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional

import pytest

official = pytest.importorskip("replicate")  # only the `official` tox env installs it
httpx = pytest.importorskip("httpx")  # the official client's dependency

import replicate_min  # noqa: E402
from replicate_min.testing import FakeReplicate  # noqa: E402

CLIENTS = pytest.mark.parametrize("replicate", [official, replicate_min], ids=["official", "replicate_min"])

# The vector of replicate-python's tests/test_webhooks.py.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
BODY = '{"test": 2432232314}'


def verdict(replicate: ModuleType, **arguments: Any) -> str:
    """A webhook handler as the official README writes it: reject on ``ValueError``."""
    webhook = importlib.import_module(f"{replicate.__name__}.webhook")
    arguments.setdefault("secret", webhook.WebhookSigningSecret(key=SECRET))
    try:
        replicate.webhooks.validate(**arguments)
    except ValueError as error:
        return type(error).__name__
    return "valid"


def signed(offset: int = 0, body: str = BODY) -> Dict[str, str]:
    """Headers as Replicate would send them ``offset`` seconds from now."""
    stamp = str(int(time.time()) + offset)
    signature = replicate_min.webhooks.sign(id=HEADERS["webhook-id"], timestamp=stamp, body=body, secret=SECRET)
    return {**HEADERS, "webhook-timestamp": stamp, "webhook-signature": signature}


# Fresh headers: the official client checks the timestamp only when given a tolerance,
# replicate_min by default (300 s); a webhook that just arrived passes both.
FRESH = signed()


def without(name: str) -> Dict[str, str]:
    return {key: value for key, value in FRESH.items() if key != name}


WEBHOOK_CASES = {
    "valid": ({"headers": FRESH, "body": BODY}, "valid"),
    "valid, headers in capitals": ({"headers": {k.upper(): v for k, v in FRESH.items()}, "body": BODY}, "valid"),
    "valid, within tolerance": ({"headers": signed(-10), "body": BODY, "tolerance": 60}, "valid"),
    "published vector, tolerance=None": ({"headers": HEADERS, "body": BODY, "tolerance": None}, "valid"),
    "tampered body": ({"headers": FRESH, "body": BODY.replace("4", "5")}, "InvalidSignatureError"),
    "other id": ({"headers": {**FRESH, "webhook-id": "msg_other"}, "body": BODY}, "InvalidSignatureError"),
    "other secret": ({"headers": FRESH, "body": BODY, "secret": "whsec_" + "QUJD" * 8}, "InvalidSignatureError"),
    "no webhook-id": ({"headers": without("webhook-id"), "body": BODY}, "MissingWebhookHeaderError"),
    "no webhook-timestamp": ({"headers": without("webhook-timestamp"), "body": BODY}, "MissingWebhookHeaderError"),
    "no webhook-signature": ({"headers": without("webhook-signature"), "body": BODY}, "MissingWebhookHeaderError"),
    "headers=None": ({"headers": None, "body": BODY}, "MissingWebhookHeaderError"),
    "headers={}": ({"headers": {}, "body": BODY}, "MissingWebhookHeaderError"),
    "no body": ({"headers": FRESH}, "MissingWebhookBodyError"),
    "empty body": ({"headers": FRESH, "body": ""}, "MissingWebhookBodyError"),
    "stale": ({"headers": HEADERS, "body": BODY, "tolerance": 3600}, "InvalidTimestampError"),
    "from the future": ({"headers": signed(+7200), "body": BODY, "tolerance": 3600}, "InvalidTimestampError"),
}


@CLIENTS
@pytest.mark.parametrize("case", list(WEBHOOK_CASES))
def test_webhook_validation(replicate: ModuleType, case: str) -> None:
    arguments, expected = WEBHOOK_CASES[case]
    if isinstance(arguments.get("secret"), str):
        webhook = importlib.import_module(f"{replicate.__name__}.webhook")
        arguments = {**arguments, "secret": webhook.WebhookSigningSecret(key=arguments["secret"])}
    assert verdict(replicate, **arguments) == expected


def message(replicate: ModuleType, **arguments: Any) -> str:
    """What an endpoint that returns ``str(e)`` sends back for a rejected webhook."""
    webhook = importlib.import_module(f"{replicate.__name__}.webhook")
    secret = arguments.get("secret", SECRET)
    arguments["secret"] = webhook.WebhookSigningSecret(key=secret)
    with pytest.raises(ValueError) as info:
        replicate.webhooks.validate(**arguments)
    return str(info.value)


@pytest.mark.parametrize("case", [case for case, (_, expected) in WEBHOOK_CASES.items() if expected != "valid"])
def test_webhook_error_messages_are_the_official_ones(case: str) -> None:
    arguments, _ = WEBHOOK_CASES[case]
    assert message(replicate_min, **arguments) == message(official, **arguments)


def test_a_malformed_signature_is_named_as_the_official_client_names_it() -> None:
    arguments = {"headers": {**FRESH, "webhook-signature": "nocomma"}, "body": BODY}
    assert message(replicate_min, **arguments) == message(official, **arguments) == "Invalid signature format: nocomma"


@CLIENTS
def test_a_non_numeric_timestamp_is_caught_by_except_value_error(replicate: ModuleType) -> None:
    # The official client lets int()'s own ValueError out; replicate_min raises InvalidTimestampError,
    # a ValueError too: a handler written for the official client rejects the request either way.
    headers = {**HEADERS, "webhook-timestamp": "yesterday"}
    assert verdict(replicate, headers=headers, body=BODY, tolerance=3600) in ("ValueError", "InvalidTimestampError")


@CLIENTS
def test_webhook_validation_from_an_httpx_request(replicate: ModuleType) -> None:
    def request(body: str) -> Any:
        return httpx.Request("POST", "https://example.com/hook", headers=FRESH, content=body.encode())

    assert verdict(replicate, request=request(BODY)) == "valid"
    assert verdict(replicate, request=request(BODY + " ")) == "InvalidSignatureError"
    assert verdict(replicate, request=request(BODY), headers=FRESH) == "ValueError"  # not both


def test_the_one_deliberate_difference_the_default_tolerance() -> None:
    # The published vector is from 2021. The official client has no default tolerance and
    # accepts it; replicate_min checks the timestamp by default (300 s) and rejects a replay.
    assert verdict(official, headers=HEADERS, body=BODY) == "valid"
    assert verdict(replicate_min, headers=HEADERS, body=BODY) == "InvalidTimestampError"


@CLIENTS
def test_the_webhook_errors_and_their_module(replicate: ModuleType) -> None:
    webhook = importlib.import_module(f"{replicate.__name__}.webhook")
    names = [
        "MissingWebhookHeaderError",
        "MissingWebhookBodyError",
        "InvalidSecretKeyError",
        "InvalidTimestampError",
        "InvalidSignatureError",
    ]
    for name in names:
        error = getattr(webhook, name)
        assert issubclass(error, webhook.WebhookValidationError) and issubclass(error, ValueError)
    assert webhook.WebhookSigningSecret(key=SECRET).key == SECRET


@pytest.fixture
def fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.02, step=0.01, page_size=2) as server:
        yield server


def created(fake: FakeReplicate, count: int) -> List[str]:
    """Predictions made with replicate_min, so that both clients list the same ones."""
    with replicate_min.Client(api_token=fake.token, base_url=fake.base_url) as client:
        version = fake.version_of("replicate-min/echo")
        return [client.predictions.create(version=version, input={"prompt": str(n)}).id for n in range(count)]


@CLIENTS
def test_page_indexing_and_slicing(replicate: ModuleType, fake: FakeReplicate) -> None:
    ids = created(fake, 3)
    client = replicate.Client(api_token=fake.token, base_url=fake.base_url)
    page = client.predictions.list()
    assert len(page) == 2
    assert page[0].id == ids[2] and page[-1].id == ids[1] and page[1].id == ids[1]
    assert [p.id for p in page[0:2]] == [ids[2], ids[1]] and [p.id for p in page[::-1]] == [ids[1], ids[2]]
    assert isinstance(page[0:1], list)
    with pytest.raises(IndexError):
        page[2]
    assert [p.id for p in page] == [ids[2], ids[1]] and page.next is not None and page.previous is None


@CLIENTS
def test_paginate_with_a_positional_cursor_function(replicate: ModuleType, fake: FakeReplicate) -> None:
    ids = created(fake, 5)
    client = replicate.Client(api_token=fake.token, base_url=fake.base_url)
    cursors: List[object] = []

    def list_page(cursor):  # type: ignore[no-untyped-def]  # no default: paginate supplies the first cursor
        cursors.append(cursor)
        return client.predictions.list(cursor)

    pages = [[p.id for p in page] for page in replicate.paginate(list_page)]
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]
    assert cursors[0] is ... and all(isinstance(c, str) for c in cursors[1:]) and len(cursors) == 3
    assert [[p.id for p in page] for page in replicate.paginate(client.predictions.list)] == pages


@CLIENTS
def test_async_paginate(replicate: ModuleType, fake: FakeReplicate) -> None:
    ids = created(fake, 3)

    async def main() -> List[Optional[str]]:
        client = replicate.Client(api_token=fake.token, base_url=fake.base_url)
        return [p.id async for page in replicate.async_paginate(client.predictions.async_list) for p in page]

    assert asyncio.run(main()) == ids[::-1]


@CLIENTS
def test_the_pagination_module(replicate: ModuleType) -> None:
    pagination = importlib.import_module(f"{replicate.__name__}.pagination")
    assert pagination.paginate is replicate.paginate and pagination.async_paginate is replicate.async_paginate
    assert pagination.Page.__name__ == "Page"


@CLIENTS
def test_run_with_the_official_extra_keywords(replicate: ModuleType, fake: FakeReplicate) -> None:
    # a16z-infra's llama2-chatbot: replicate.run(model, input=..., api_token=...), and run(..., stream=True)
    import warnings

    client = replicate.Client(api_token=fake.token, base_url=fake.base_url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # replicate_min names each ignored keyword; official is silent
        output = client.run("replicate-min/echo", input={"prompt": "a b"}, api_token="r8_someone_else", stream=True)
    assert output == "a b"  # replicate-min/echo outputs the prompt
    (create,) = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/predictions")]
    assert create.headers["authorization"] == f"Bearer {fake.token}"  # the client's token; the keyword is dropped
    assert create.json() == {"input": {"prompt": "a b"}, "stream": True}
