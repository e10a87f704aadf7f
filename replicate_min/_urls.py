"""URL helpers shared by the client and the transport."""

from __future__ import annotations

from typing import Optional

__all__ = ["FILE_URL_PREFIXES", "is_loopback", "origin_of", "path_segment", "shown_url", "url_problem", "valid_host"]

#: Output strings that name a file (a ``FileOutput``), as the official client decides it.
FILE_URL_PREFIXES = ("https:", "data:")


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, with the scheme's default port filled in."""
    from urllib.parse import urlsplit  # loaded on first use, not at import

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


def valid_host(host: str) -> bool:
    """True for a host a request may be sent to: an ASCII name of letters, digits, ``.``,
    ``-`` and ``_``, or an IP literal (IPv6 as ``urlsplit().hostname`` gives it, without
    brackets or a zone).

    ``host`` is the host as written in the URL. A percent-escape is refused outright:
    urllib decodes the host before it connects or writes ``CONNECT host:port``, so an
    escaped CR, LF, space or NUL would reach the wire (or a proxy) as itself, and a
    suffix check on the escaped text (``….replicate.delivery``) says nothing of the
    host that is really contacted. Names outside ASCII are given in their ``xn--`` form.
    """
    if not host or len(host) > 253:
        return False
    if _NAME_CHARACTERS.issuperset(host):
        return host[0] not in ".-" and ".." not in host
    if ":" in host and "%" not in host:
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return False


def url_problem(url: str, *, credentials: bool = False) -> Optional[str]:
    """Why ``url`` may not be requested, or None: the one rule for every URL a request
    goes to (base URL, output and stream URLs, cursors, downloads, redirects, proxies)
    or that the server is asked to call (webhooks).

    It must be ``http(s)://``, printable without spaces, with a port in 1..65535 and a
    host ``valid_host`` accepts (so nothing urllib decodes can split a request line or
    a proxy's ``CONNECT``). ``user:password@`` is refused unless ``credentials`` is true
    (a proxy's, which go to the proxy alone).
    """
    if not url.startswith(("https://", "http://")):
        return "it is not an http(s) URL"
    if not url.isprintable() or any(character.isspace() for character in url):
        return "it holds spaces or control characters"
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError out of range
    except ValueError:
        return "its host or port cannot be parsed"
    if port == 0:
        return "its port is 0"
    host = parts.hostname or ""
    if "@" in parts.netloc and not credentials:
        return "it holds credentials (user@host)"
    authority = parts.netloc.rpartition("@")[2]
    if "[" in authority or "]" in authority:  # urlsplit ignores what follows "]" unless it is ":port"
        close = authority.find("]")
        if (
            not authority.startswith("[")
            or close < 0
            or "[" in authority[1:]
            or authority[close + 1 :][:1] not in ("", ":")
        ):
            return "its host or port cannot be parsed"
    if not valid_host(host):
        return "its host is not letters, digits, '.', '-' or an IP address"
    return None


def shown_url(url: object) -> str:
    """``url`` as an error message may show it: its ``repr`` cut to 80 characters; only that
    it may hold a ``user:password@``, if it does; only its type, if it is not a string
    (bytes or a ``SplitResult`` may hold a password too)."""
    if not isinstance(url, str):
        return f"a {type(url).__name__} value"
    return "a URL with userinfo (not shown)" if "@" in url else repr(url[:80])


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost" or host == "::1":
        return True
    parts = host.split(".")
    if len(parts) == 4 and all(part.isdigit() and part.isascii() for part in parts):
        return parts[0] == "127" and all(int(part) <= 255 for part in parts)  # IPv4, without ipaddress
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def path_segment(text: str) -> str:
    """``text`` escaped to stand as one path segment (``/``, ``?`` and ``#`` included).

    Raises:
        ValueError: ``text`` is ``.`` or ``..``, which a normalising proxy would resolve
        to another endpoint, escaped or not, or holds a lone surrogate (no UTF-8 for it).
    """
    if type(text) is not str:  # a subclass's __str__ or __format__ could name another path
        text = str.__str__(text)
    if text.isalnum() and text.isascii():  # prediction ids: nothing to escape
        return text
    if text.strip(".") == "" and len(text) <= 2:
        raise ValueError(f"{text!r} is not an id: it would name another path")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{text[:80]!r} is not an id: it holds a lone surrogate") from None
    from urllib.parse import quote

    return quote(text, safe="")
