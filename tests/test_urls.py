"""``_urls``: the pure URL helpers shared by the requester and the transport."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict

import pytest

from replicate_min import Client, ValidationError
from replicate_min._requester import check_url
from replicate_min._urls import path_segment, url_problem, valid_host
from replicate_min.testing import FakeReplicate


@pytest.mark.parametrize(
    "host", ["api.replicate.com", "replicate.delivery.", "127.0.0.1", "::1", "fe80::1", "localhost", "my_service"]
)
def test_names_and_ip_literals_are_valid_hosts(host: str) -> None:
    assert valid_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "a b",
        "-x.example",
        ".example",
        "a..b",
        "x\x00y",
        "é.example",
        "::1%25eth0",
        "not:an:address",
        "a" * 254,
        # G1: the escaped host urllib would decode into a second request line before CONNECT
        "evil.test%3a443%20http%2f1.1%0d%0ahost%3a%20evil.test%0d%0a%0d%0ax%5d.replicate.delivery",
        "evil.test%00.replicate.delivery",
    ],
)
def test_escapes_spaces_controls_and_non_ascii_names_are_not_hosts(host: str) -> None:
    assert not valid_host(host)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.replicate.com/v1/predictions",
        "http://127.0.0.1:8000",
        "https://[2001:db8::1]:8443/x?y=1",
        "https://a-b.replicate.delivery/o.png",
    ],
)
def test_the_url_rule_accepts_http_urls_to_valid_hosts(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test%3A443%20HTTP%2F1.1%0D%0AHost%3A%20evil.test%0D%0A%0D%0AX%5D.replicate.delivery/o.png",
        "https://evil.test%00.replicate.delivery/o.png",
        "http://[::1",
        "http://[::1%25eth0]/x",
        "https://[::1]x/",
        "https://[::1]:80]/",
        "https://a]b/",
        "https://[a[::1]/",
        "https://host:0/x",
        "https://host:99999/x",
        "https://user:password@api.replicate.com",
        "https:///no-host",
        "https://exa mple.com/",
        "https://example.com/\n",
        "ftp://example.com/",
        "data:,x",
    ],
)
def test_the_url_rule_refuses_what_could_not_be_sent_safely(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "https://evil.test%0D%0AX.replicate.delivery/o.png", "https://u:p@api.replicate.com/x"],
)
def test_download_of_a_url_that_cannot_be_requested_is_the_callers_value_error(url: str) -> None:
    client = Client(api_token="r8_test", max_retries=0)
    with pytest.raises(ValueError, match="cannot be requested"):
        client.download(url)


@pytest.mark.parametrize("base_url", ["https://user:s3cret-pw@api.replicate.com", "https://evil%0d%0a.test"])
def test_a_base_url_that_cannot_be_requested_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        Client(api_token="r8_test", base_url=base_url)
    assert "s3cret-pw" not in str(info.value)  # G16: userinfo is refused and never shown


@pytest.mark.parametrize(
    "url", ["https://evil.test%0D%0AX.replicate.delivery/o.png", "http://[::1/x", "https://u:p@x.replicate.delivery/"]
)
def test_a_server_url_that_cannot_be_requested_is_a_validation_error(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_url("output", url)
    assert info.value.field == "output"


# Every URL a caller gives follows the one rule, and a bad one is the caller's ValueError
# or TypeError before anything is sent: the base URL, a download, a page cursor, a webhook
# (which the server is asked to call) and a proxy (whose credentials are its own).
_BAD_URLS = [
    "http://[::1",
    "https://[::1]x/",
    "https://a]b/",
    "https://host:0/x",
    "https://host:99999/x",
    "https:///no-host",
    "https://exa mple.com/",
    "https://example.com/a\nb",
    "ftp://example.com/",
    "https://evil.test%0D%0AX.replicate.delivery/o.png",
    5,
]

_CALLER_URLS: Dict[str, Callable[[Client, Any], Any]] = {
    "base_url": lambda client, url: Client(api_token="r8_test", base_url=url),
    "download": lambda client, url: client.download(url),
    "predictions.list cursor": lambda client, url: client.predictions.list(url),
    "versions.list cursor": lambda client, url: client.models.get("replicate-min/echo").versions.list(url),  # (a GET)
    "webhook": lambda client, url: client.predictions.create(model="replicate-min/echo", input={}, webhook=url),
    "webhook_completed": lambda client, url: client.run("replicate-min/echo", {}, webhook_completed=url),
    "proxy": lambda client, url: Client(api_token="r8_test", proxy=url),
}


@pytest.mark.parametrize("where", sorted(_CALLER_URLS))
@pytest.mark.parametrize("url", [*_BAD_URLS, "https://user:s3cret@example.com/"], ids=repr)
def test_a_callers_url_that_breaks_the_rule_is_a_value_or_type_error_and_nothing_is_sent(where: str, url: Any) -> None:
    if where in ("proxy", "webhook", "webhook_completed") and isinstance(url, str) and "@" in url:
        return  # credentials that go to the proxy alone, or to the webhook: allowed (below)
    with FakeReplicate(start_delay=0, step=0) as fake:
        client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=0)
        with pytest.raises((ValueError, TypeError)) as info:
            _CALLER_URLS[where](client, url)
        assert not isinstance(info.value, ValidationError)  # that is the server's bad body, not the caller's
        assert "s3cret" not in str(info.value)
        assert [r.path for r in fake.requests] == (["/v1/models/replicate-min/echo"] if "versions" in where else [])


@pytest.mark.parametrize("where", sorted(_CALLER_URLS))
@pytest.mark.parametrize("url", [b"https://user:s3cret@example.com/", ("https://user:s3cret@example.com/",)], ids=repr)
def test_a_callers_url_that_is_not_a_string_is_refused_without_showing_it(where: str, url: Any) -> None:
    with FakeReplicate(start_delay=0, step=0) as fake:
        client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=0)
        with pytest.raises((ValueError, TypeError)) as info:
            _CALLER_URLS[where](client, url)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("password", ["s3cret", "p#ss", "p?ss", "p[1]", "a://b"])
def test_a_proxy_may_carry_its_own_credentials_and_may_omit_the_scheme(password: str) -> None:
    Client(api_token="r8_test", proxy=f"http://user:{password}@proxy.example:3128")  # urllib splits at the last @
    Client(api_token="r8_test", proxy="proxy.example:3128")
    Client(api_token="r8_test", proxy="HTTP://proxy.example:3128")
    with pytest.raises(ValueError, match="proxy") as info:
        Client(api_token="r8_test", proxy="socks5://user:s3cret@proxy.example:1080")
    assert "s3cret" not in str(info.value)


def test_an_id_with_a_lone_surrogate_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        path_segment("a\ud800")
    client = Client(api_token="r8_test", base_url="http://127.0.0.1:9")
    for call in (client.predictions.get, client.predictions.cancel):
        with pytest.raises(ValueError, match="surrogate"):
            call("\ud800")


@pytest.mark.parametrize("webhook", ["https://user:s3cret@example.com/hook", "HTTPS://example.com/hook"])
def test_a_webhook_may_carry_credentials_or_an_upper_case_scheme_as_the_official_client_sends_them(
    webhook: str,
) -> None:
    with FakeReplicate(start_delay=0, step=0) as fake:
        client = Client(api_token=fake.token, base_url=fake.base_url)
        client.predictions.create(model="replicate-min/echo", input={}, webhook=webhook)
        assert json.loads(fake.requests[-1].body)["webhook"] == webhook
