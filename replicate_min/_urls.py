"""URL helpers shared by the client and the transport."""

from __future__ import annotations

__all__ = ["FILE_URL_PREFIXES", "is_loopback", "origin_of", "path_segment"]

#: Output strings that name a file (a ``FileOutput``), as the official client decides it.
FILE_URL_PREFIXES = ("https:", "data:")


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, with the scheme's default port filled in."""
    from urllib.parse import urlsplit  # loaded on first use, not at import

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


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
        to another endpoint, escaped or not.
    """
    if text.isalnum() and text.isascii():  # prediction ids: nothing to escape
        return text
    if text.strip(".") == "" and len(text) <= 2:
        raise ValueError(f"{text!r} is not an id: it would name another path")
    from urllib.parse import quote

    return quote(text, safe="")
