"""``_urls``: the pure URL helpers shared by the requester and the transport."""

from __future__ import annotations

import pytest

from replicate_min import Client, ValidationError
from replicate_min._requester import check_url
from replicate_min._urls import url_problem, valid_host


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
