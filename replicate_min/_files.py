"""Files: inputs encoded as ``data:`` URLs or uploaded to ``/v1/files``, and outputs read back.

A ``pathlib.Path``, an open binary file or ``bytes`` anywhere in a prediction's input
(nested dicts, lists and tuples too) is replaced by a ``data:`` URL or by the URL of an
upload. As in the official client, sets, tuples and generators are sent as lists, and
NumPy arrays and scalars (anything with ``tolist()`` or ``item()``) as lists and numbers.
The default follows the API's guidance: data URLs up to 256 KB, uploads above.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from types import GeneratorType
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, Generator, List, Optional, Tuple, Union

from ._defaults import MAX_JSON_DEPTH
from ._exceptions import ValidationError, excerpt
from ._requester import Cancel, Requester, async_twin, decode_json, default_requester, encode_json
from ._urls import FILE_URL_PREFIXES, path_segment

if TYPE_CHECKING:
    from ._transport import StreamResponse

__all__ = [
    "DATA_URL_LIMIT",
    "MAX_FILE_SIZE",
    "File",
    "FileOutput",
    "Files",
    "decode_data_url",
    "encode_files",
    "transform_output",
]

#: The largest file sent inline as a ``data:`` URL by default (the API's guidance).
DATA_URL_LIMIT = 256 * 1024
#: The largest file read for an input or an upload (the API's own limit is 100 MiB).
MAX_FILE_SIZE = 100 * 1024 * 1024
STRATEGIES = (None, "base64", "url")


def _is_file(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview, os.PathLike)):
        return True
    return not isinstance(value, type) and callable(getattr(value, "read", None))  # (a class's read is unbound)


def _read(value: Any) -> Tuple[bytes, str]:
    """The bytes of a file input and a file name for it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), "file"
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except (OSError, ValueError) as exc:  # (ValueError: a NUL, or a lone surrogate, in the path)
            reason = getattr(exc, "strerror", None) or "it is not a valid path"
            raise ValueError(f"input file {str(path)[:200]!r} cannot be read: {reason}") from None
        try:  # checked before open(), which refuses a folder with its own error
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"input file {str(path)[:200]!r} is not a regular file (a device, FIFO or folder)")
            if info.st_size > MAX_FILE_SIZE:
                raise ValueError(f"input file {str(path)[:200]!r} is larger than {MAX_FILE_SIZE} bytes")
            handle = open(descriptor, "rb")
        except BaseException:
            os.close(descriptor)
            raise
        with handle:
            return _read_limited(handle, path), os.path.basename(str(path))
    data = _read_limited(value, getattr(value, "name", "file"))
    return data, os.path.basename(str(getattr(value, "name", "file")))


def _read_limited(handle: Any, name: Any) -> bytes:
    """At most ``MAX_FILE_SIZE`` bytes of an open binary file; ``ValueError`` past that."""
    try:
        data = handle.read(MAX_FILE_SIZE + 1)
    except (OSError, ValueError) as exc:  # a closed file, a socket's timeout, a read error
        raise ValueError(f"input file {excerpt(name)} cannot be read: {exc}") from None
    if not isinstance(data, bytes):
        raise TypeError(f"input file {excerpt(name)} must be opened in binary mode ('rb')")
    if len(data) > MAX_FILE_SIZE:
        raise ValueError(f"input file {excerpt(name)} is larger than {MAX_FILE_SIZE} bytes")
    return data


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


def encode_files(value: Any, requester: Requester, strategy: Optional[str], deadline: Optional[float] = None) -> Any:
    """``value`` with every file input replaced by a data URL or an uploaded file's URL.

    The whole input is checked (and its files read) before anything is uploaded. Uploads
    are bounded by ``deadline`` (a ``time.monotonic()`` value), the create's own.

    Raises:
        TypeError: the input holds what JSON cannot (NaN, an object, a tuple key), refers to
            itself, or nests deeper than ``MAX_JSON_DEPTH``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"file_encoding_strategy must be 'base64', 'url' or None (automatic), got {strategy!r}")
    files: List[_File] = []
    encoded = _encode(value, set(), files)
    if not files:
        return encoded
    for file in files:
        if strategy == "base64" or (strategy is None and len(file.data) <= DATA_URL_LIMIT):
            file.url = to_data_url(file.data, file.content_type)
        else:
            file.url = Files(requester)._upload(file.data, file.name, file.content_type, {}, deadline).urls["get"]
    return _with_urls(encoded)


class _File:
    """A file input read, waiting for its URL until the whole input has been checked."""

    __slots__ = ("content_type", "data", "name", "url")

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.content_type = data, name, _content_type(name)
        self.url = ""


def _with_urls(value: Any) -> Any:
    if isinstance(value, _File):
        return value.url
    if isinstance(value, dict):
        return {key: _with_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_urls(item) for item in value]
    return value


_PLAIN = frozenset({str, int, float, bool, type(None)})
_INF = float("inf")


def _json_leaf(value: Any) -> Any:
    """``value``, a string, number or None, unless it is a float JSON has no word for."""
    if isinstance(value, float) and not -_INF < value < _INF:
        raise TypeError(f"input must be JSON-serializable: it holds {excerpt(value)}, which JSON has no word for")
    return value


def _encode(value: Any, path: set[int], files: List[_File]) -> Any:
    if type(value) in _PLAIN:
        return _json_leaf(value)  # the common leaf, decided without attribute lookups
    if isinstance(value, (set, frozenset, GeneratorType)):
        value = list(value)  # as the official client sends them: JSON arrays
    elif not isinstance(value, (str, dict, list, tuple)) and not _is_file(value):
        # NumPy arrays and scalars (and tensors), without importing NumPy: arrays become
        # lists, scalars Python numbers, as the official client's numpy branch does.
        tolist = getattr(value, "tolist", None)
        item = getattr(value, "item", None)
        if callable(tolist):
            value = tolist()
        elif callable(item):
            value = item()
    if isinstance(value, (dict, list, tuple)):
        if id(value) in path:
            raise TypeError("input must be JSON-serializable: it contains a circular reference")
        if len(path) >= MAX_JSON_DEPTH:
            raise TypeError(f"input must be JSON-serializable: it nests deeper than {MAX_JSON_DEPTH} levels")
        path.add(id(value))
        try:
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, (str, int, float)) and key is not None:  # (bool is an int)
                        raise TypeError(f"input must be JSON-serializable: it has a key {excerpt(key)}")
                return {key: _encode(item, path, files) for key, item in value.items()}
            return [_encode(item, path, files) for item in value]
        finally:
            path.discard(id(value))
    if isinstance(value, (str, int, float)):  # subclasses too (an IntEnum): JSON holds their values
        return _json_leaf(value)
    if not _is_file(value):
        raise TypeError(f"input must be JSON-serializable (or a file): it holds {excerpt(value)}")
    file = _File(*_read(value))
    files.append(file)
    return file


def _form_filename(filename: str) -> str:
    """A file name for a part header (RFC 7578 4.2): no character in it can end the header.

    Quotes and backslashes are escaped as a quoted-string allows; control characters
    (CR and LF among them), which a quoted-string cannot hold, are percent-encoded as
    browsers do.
    """
    escaped = "".join(f"%{ord(c):02X}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in filename)
    return escaped.replace("\\", "\\\\").replace('"', '\\"') or "file"


def _check_content_type(content_type: Any) -> str:
    import re

    if not isinstance(content_type, str) or not re.fullmatch(
        r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=[^\x00-\x1f\x7f;]*)*",
        content_type,
    ):
        raise ValueError(f"content_type must be a media type such as 'image/png', got {excerpt(content_type)}")
    return content_type


def multipart(fields: Dict[str, Union[str, Tuple[str, str, bytes]]]) -> Tuple[bytes, str]:
    """A ``multipart/form-data`` body: plain fields, or (filename, content type, bytes).

    File names are escaped as RFC 7578 asks (no quote, backslash or line break can end
    the header); a content type must be a plain media type.
    """
    import secrets  # it loads hashlib: only when a file is uploaded

    boundary = "replicate-min-" + secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        if isinstance(value, str):
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            data = value.encode()
        else:
            filename, content_type, data = value
            head = (
                f'Content-Disposition: form-data; name="{name}"; filename="{_form_filename(filename)}"\r\n'
                f"Content-Type: {_check_content_type(content_type)}\r\n\r\n"
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
        """A file from the server's JSON, each field checked (the server is not trusted: a name is
        any text, never a path to write to)."""
        if not isinstance(data, dict):
            raise ValidationError(f"a file must be a JSON object, got {excerpt(data)}", value=data)
        if not isinstance(data.get("id"), str):
            raise ValidationError(f"file field 'id' must be a string, got {excerpt(data.get('id'))}", field="id")
        urls = data.get("urls")
        if not isinstance(urls, dict) or not isinstance(urls.get("get"), str):
            raise ValidationError(f"file field 'urls' must hold a 'get' URL, got {excerpt(urls)}", field="urls")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data and data[name] is not None}
        for name, kind in _FILE_FIELDS.items():
            value = known.get(name)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise ValidationError(
                    f"file field {name!r} must be {_KIND_NAMES[kind]}, got {excerpt(value)}", field=name, value=value
                )
        return cls(**known)


_FILE_FIELDS: Dict[str, type] = {
    "name": str,
    "content_type": str,
    "size": int,
    "etag": str,
    "checksums": dict,
    "metadata": dict,
    "created_at": str,
    "expires_at": str,
}
_KIND_NAMES = {str: "a string", int: "a whole number", dict: "an object"}


class Files:
    """``client.files``: upload, fetch and delete files (``/v1/files``)."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<Files of {self._requester!r}>"

    def create(
        self,
        file: Any,
        *,
        filename: Optional[str] = None,
        content_type: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> File:
        """Uploads ``file`` (a path as ``str`` or ``Path``, a binary file, or bytes) and returns the
        stored file. The name sent is ``filename``, else the path's or the file's name."""
        if isinstance(file, str):
            from pathlib import Path

            if not file:
                raise ValueError("file must be a path, got an empty string")
            file = Path(file)
        if not _is_file(file):
            raise TypeError(f"file must be a path, a binary file or bytes, got {excerpt(file)}")
        if filename is not None and not isinstance(filename, str):
            raise TypeError(f"filename must be a string, got {excerpt(filename)}")
        if content_type is not None and not isinstance(content_type, str):
            raise TypeError(f"content_type must be a string such as 'image/png', got {excerpt(content_type)}")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict, got {excerpt(metadata)}")
        data, name = _read(file)
        name = filename or name
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"filename {name[:80]!r} holds a lone surrogate (no UTF-8 for it)") from None
        return self._upload(data, name, content_type or _content_type(name), metadata or {}, None)

    def _upload(
        self, data: bytes, name: str, content_type: str, metadata: Dict[str, Any], deadline: Optional[float]
    ) -> File:
        fields: Dict[str, Union[str, Tuple[str, str, bytes]]] = {
            "content": (name, _check_content_type(content_type), data),
            "metadata": encode_json(metadata, "metadata").decode(),
        }
        body, form_type = multipart(fields)
        response = self._requester.send(
            "POST", "/v1/files", content=body, headers={"Content-Type": form_type}, idempotent=False, deadline=deadline
        )
        return File.from_json(decode_json(response.status, response.body, response.url))

    def get(self, id: str) -> File:
        """Fetches a file's description."""
        return File.from_json(self._requester.request("GET", f"/v1/files/{path_segment(_check_id(id))}"))

    def list(self) -> List[File]:
        """Your files, the first page of them (as the official client returns them: a list)."""
        page = self._requester.request("GET", "/v1/files")
        results = page.get("results") if isinstance(page, dict) else None
        if not isinstance(results, list):
            raise ValidationError(f"a page of files must hold a 'results' list, got {excerpt(page)}", field="results")
        return [File.from_json(item) for item in results]

    def delete(self, id: str) -> bool:
        """Deletes a file; True once it is gone (``NotFound`` if there was no such file)."""
        self._requester.request("DELETE", f"/v1/files/{path_segment(_check_id(id))}")
        return True

    async_create = async_twin(create)
    async_get = async_twin(get)
    async_list = async_twin(list)
    async_delete = async_twin(delete)


def _check_id(id: Any) -> str:
    if not isinstance(id, str) or not id:
        raise TypeError(f"id must be a non-empty file id string, got {excerpt(id)}")
    return id


class FileOutput(str):
    """A file a model made: its URL, which reads as bytes.

    It is a ``str`` (the URL), so code that compares, prints or JSON-encodes outputs
    keeps working; like the official client's ``FileOutput`` it also reads the file:
    ``read()`` and ``aread()`` return its bytes, and iterating it (``for chunk in
    output``, ``async for chunk in output``) yields the bytes in chunks as they arrive,
    never the URL's characters. A ``data:`` URL is decoded locally; an ``https:`` URL is
    fetched, with the API token only where the client allows (Replicate's own hosts).
    """

    url: str
    _bound: Optional[Requester]

    def __new__(cls, url: str, requester: Optional[Requester] = None) -> FileOutput:
        output = super().__new__(cls, url)
        output.url = url
        output._bound = requester
        return output

    @property
    def _requester(self) -> Requester:
        """The client it reads through: the one it came from or was bound to, else the default."""
        return self._bound if self._bound is not None else default_requester()

    def bind(self, client: Any) -> FileOutput:
        """Makes ``read()`` and iteration go through ``client`` (a ``Client``); returns self."""
        requester = getattr(client, "requester", client)
        if not isinstance(requester, Requester):
            raise TypeError(f"bind() takes a Client, got {excerpt(client)}")
        self._bound = requester
        return self

    def __repr__(self) -> str:
        return f"FileOutput({self.url[:80]!r})"

    def __reduce__(self) -> Any:
        # The URL alone crosses a process boundary (a client holds locks and sockets): the
        # FileOutput that arrives reads through the default client there, or one it is bound to.
        return (FileOutput, (self.url,))

    def read(self) -> bytes:
        """The whole file (at most the client's ``max_response_size``).

        Raises:
            ReplicateError: the server answered with an error status.
            ValidationError: a ``data:`` URL that is malformed.
            ResponseTooLargeError: the file is larger than ``max_response_size``.
        """
        if self.url.startswith("data:"):
            return self._decoded()
        response = self._open()
        try:
            return response.read(self._requester.settings.max_response_size)
        finally:
            response.close()

    def __iter__(self) -> Generator[bytes, None, None]:  # type: ignore[override]  # bytes, not the URL's characters
        return self._chunks(None)

    def _chunks(self, cancel: Optional[Cancel]) -> Generator[bytes, None, None]:
        """The file's bytes as they arrive; ``cancel`` breaks a blocked read from any thread."""
        if self.url.startswith("data:"):
            yield self._decoded()
            return
        response = self._open(cancel)
        try:
            while True:
                chunk = response.read1()
                if not chunk:
                    return
                yield chunk
        finally:
            response.close()

    async def aread(self) -> bytes:
        """Async ``read``, on one of the client's worker threads."""
        return await self._requester.run_async(self.read)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``async for chunk in output``: each read runs on a worker thread.

        Cancelling the task (or ``asyncio.wait_for`` running out) raises ``CancelledError``
        (``TimeoutError``) at once and breaks the download in the worker.
        """
        return _AsyncChunks(self)

    def _open(self, cancel: Optional[Cancel] = None) -> StreamResponse:
        return self._requester.open_get(self.url, headers={"Accept": "*/*"}, cancel=cancel)

    def _decoded(self) -> bytes:
        try:
            return decode_data_url(self.url)
        except ValueError as exc:  # the server's output, not the caller's mistake
            raise ValidationError(f"output {self.url[:80]!r} is not a valid data URL: {exc}", value=self.url) from None


class _AsyncChunks:
    """The async iterator of a ``FileOutput``: one step at a time on the client's workers.

    Closing it (cancellation, an error, ``aclose()``, being dropped) never waits: it breaks
    the connection, and whichever thread holds the sync generator closes it, so it is
    never closed while it runs ("generator already executing").
    """

    def __init__(self, output: FileOutput) -> None:
        import threading

        self._output = output
        self._cancel = Cancel()
        self._chunks: Optional[Generator[bytes, None, None]] = None
        self._stepping = threading.Lock()  # held by the worker inside a step
        self._closed = False

    def __aiter__(self) -> _AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await self._output._requester.run_async(self._step)
        except BaseException:  # an error, or the task was cancelled: the download stops
            self._close()
            raise
        if chunk is None:
            self._close()
            raise StopAsyncIteration
        return chunk

    def _step(self) -> Optional[bytes]:
        with self._stepping:
            if self._closed:
                return None
            if self._chunks is None:
                self._chunks = self._output._chunks(self._cancel)
            chunk = next(self._chunks, None)
        if self._closed:  # closed while this step ran: the close could not take the generator
            self._close_chunks()
        return chunk

    def _close(self) -> None:
        self._closed = True
        self._cancel.set()
        self._close_chunks()

    def _close_chunks(self) -> None:
        if self._stepping.acquire(blocking=False):  # else the running step closes it when it ends
            try:
                if self._chunks is not None:
                    self._chunks.close()
            finally:
                self._stepping.release()

    async def aclose(self) -> None:
        """Stops the download (it never blocks)."""
        self._close()

    def __del__(self) -> None:
        self._close()


def transform_output(value: Any, requester: Requester) -> Any:
    """``value`` with every ``https:`` or ``data:`` URL string (nested too) as a ``FileOutput``.

    Walked with a stack of its own, not by recursion: an output nested as deep as the JSON
    decoder allows (a server's choice) never raises ``RecursionError``.
    """

    def leaf(item: Any) -> Any:
        if isinstance(item, str) and item.startswith(FILE_URL_PREFIXES):
            return FileOutput(item, requester)
        return item

    if not isinstance(value, (dict, list)):
        return leaf(value)
    root: Any = {} if isinstance(value, dict) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, (dict, list)):
                copy: Any = {} if isinstance(item, dict) else []
                stack.append((item, copy))
                item = copy
            else:
                item = leaf(item)
            if isinstance(target, dict):
                target[key] = item
            else:
                target.append(item)
    return root
