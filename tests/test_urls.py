"""``_urls``: the pure URL helpers shared by the requester and the transport."""

from __future__ import annotations

import pytest

from replicate_min._urls import valid_host


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
