"""Files: inputs encoded as ``data:`` URLs or uploaded to ``/v1/files``, and outputs read back.

A ``pathlib.Path``, an open binary file or ``bytes`` anywhere in a prediction's input
(nested dicts, lists and tuples too) is replaced by a ``data:`` URL or by the URL of an
upload. The default follows the API's guidance: data URLs up to 256 KB, uploads above.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ._exceptions import ValidationError, excerpt
from ._urls import path_segment

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple, Union

    from ._client import Client

__all__ = ["DATA_URL_LIMIT", "File", "Files", "decode_data_url", "encode_files"]

#: The largest file sent inline as a ``data:`` URL by default (the API's guidance).
DATA_URL_LIMIT = 256 * 1024
STRATEGIES = (None, "base64", "url")


def _is_file(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview, os.PathLike)):
        return True
    return callable(getattr(value, "read", None))


def _read(value: Any) -> Tuple[bytes, str]:
    """The bytes of a file input and a file name for it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), "file"
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        try:
            with open(path, "rb") as handle:
                return handle.read(), os.path.basename(str(path))
        except OSError as exc:
            raise ValueError(f"input file {path!r} cannot be read: {exc.strerror or exc}") from exc
    data = value.read()
    if not isinstance(data, bytes):
        raise TypeError(f"input file {excerpt(value)} must be opened in binary mode ('rb')")
    return data, os.path.basename(str(getattr(value, "name", "file")))


def _content_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def to_data_url(data: bytes, content_type: str) -> str:
    import base64

    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:`` URL (base64 or percent-encoded)."""
    header, comma, payload = url.partition(",")
    if not header.startswith("data:") or not comma:
        raise ValueError(f"not a data URL: {url[:40]!r}")
    if header.endswith(";base64"):
        import base64

        try:
            return base64.b64decode(payload, validate=True)
        except ValueError as exc:
            raise ValueError(f"the data URL's base64 is malformed: {exc}") from exc
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(payload)


def encode_files(value: Any, client: Client, strategy: Optional[str]) -> Any:
    """``value`` with every file input replaced by a data URL or an uploaded file's URL."""
    if strategy not in STRATEGIES:
        raise ValueError(f"file_encoding_strategy must be 'base64', 'url' or None (automatic), got {strategy!r}")
    return _encode(value, client, strategy)


def _encode(value: Any, client: Client, strategy: Optional[str]) -> Any:
    if isinstance(value, dict):
        return {key: _encode(item, client, strategy) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, client, strategy) for item in value]
    if isinstance(value, str) or not _is_file(value):
        return value
    data, name = _read(value)
    content_type = _content_type(name)
    if strategy == "base64" or (strategy is None and len(data) <= DATA_URL_LIMIT):
        return to_data_url(data, content_type)
    return client.files.create(data, filename=name, content_type=content_type).urls["get"]


def multipart(fields: Dict[str, Union[str, Tuple[str, str, bytes]]]) -> Tuple[bytes, str]:
    """A ``multipart/form-data`` body: plain fields, or (filename, content type, bytes)."""
    import secrets  # it loads hashlib: only when a file is uploaded

    boundary = "replicate-min-" + secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        if isinstance(value, str):
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            data = value.encode()
        else:
            filename, content_type, data = value
            quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
            head = (
                f'Content-Disposition: form-data; name="{name}"; filename="{quoted}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            )
        parts.append(f"--{boundary}\r\n{head}".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class File:
    """A file uploaded to ``/v1/files``; ``urls["get"]`` is what a prediction input takes."""

    id: str
    urls: Dict[str, str]
    name: Optional[str] = None
    content_type: Optional[str] = None
    size: Optional[int] = None
    etag: Optional[str] = None
    checksums: Dict[str, str] = field(default_factory=dict)
    metadata: Dict[str, Any] = field(default_factory=dict)
    created_at: Optional[str] = None
    expires_at: Optional[str] = None

    @classmethod
    def from_json(cls, data: Any) -> File:
        if not isinstance(data, dict):
            raise ValidationError(f"a file must be a JSON object, got {excerpt(data)}", value=data)
        if not isinstance(data.get("id"), str):
            raise ValidationError(f"file field 'id' must be a string, got {excerpt(data.get('id'))}", field="id")
        urls = data.get("urls")
        if not isinstance(urls, dict) or not isinstance(urls.get("get"), str):
            raise ValidationError(f"file field 'urls' must hold a 'get' URL, got {excerpt(urls)}", field="urls")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data and data[name] is not None}
        return cls(**known)


class Files:
    """``client.files``: upload, fetch and delete files (``/v1/files``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<Files of {self._client!r}>"

    def create(
        self,
        file: Any,
        *,
        filename: Optional[str] = None,
        content_type: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> File:
        """Uploads ``file`` (a path, a binary file or bytes) and returns the stored file."""
        if not _is_file(file) or isinstance(file, str):
            raise TypeError(f"file must be a path, a binary file or bytes, got {excerpt(file)}")
        import json

        data, name = _read(file)
        name = filename or name
        fields: Dict[str, Union[str, Tuple[str, str, bytes]]] = {
            "content": (name, content_type or _content_type(name), data),
            "metadata": json.dumps(metadata or {}),
        }
        body, form_type = multipart(fields)
        response = self._client._send(
            "POST", "/v1/files", body=body, headers={"Content-Type": form_type}, resend_safe=False
        )
        from ._client import decode_json

        return File.from_json(decode_json(response.status, response.body, response.url))

    def get(self, id: str) -> File:
        """Fetches a file's description."""
        return File.from_json(self._client._request("GET", f"/v1/files/{path_segment(_check_id(id))}"))

    def delete(self, id: str) -> None:
        """Deletes a file."""
        self._client._request("DELETE", f"/v1/files/{path_segment(_check_id(id))}")

    async def async_create(self, file: Any, **options: Any) -> File:
        """Async ``create``."""
        import asyncio

        return await asyncio.to_thread(self.create, file, **options)

    async def async_get(self, id: str) -> File:
        """Async ``get``."""
        import asyncio

        return await asyncio.to_thread(self.get, id)

    async def async_delete(self, id: str) -> None:
        """Async ``delete``."""
        import asyncio

        await asyncio.to_thread(self.delete, id)


def _check_id(id: Any) -> str:
    if not isinstance(id, str) or not id:
        raise TypeError(f"id must be a non-empty file id string, got {excerpt(id)}")
    return id
