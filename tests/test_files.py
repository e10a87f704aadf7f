"""File inputs (data URLs and uploads), the files namespace, and reading outputs back."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any, Dict

import pytest

from replicate_min import Client, ReplicateError
from replicate_min._files import DATA_URL_LIMIT, FileOutput, decode_data_url, multipart
from replicate_min.testing import FakeReplicate


def sent_input(fake: FakeReplicate) -> dict[str, object]:
    request = next(r for r in reversed(fake.requests) if r.path.endswith("/predictions"))
    return request.json()["input"]  # type: ignore[no-any-return]


def test_small_files_anywhere_in_the_input_become_data_urls(
    client: Client, fake: FakeReplicate, tmp_path: Path
) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG fake")
    with open(image, "rb") as handle:
        client.predictions.create(
            model="replicate-min/echo",
            input={
                "image": image,
                "nested": {"list": [b"raw", (io.BytesIO(b"io"),)]},
                "handle": handle,
                "text": "keep",
            },
        )
    sent = sent_input(fake)
    assert sent["image"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    assert sent["handle"] == sent["image"]
    assert sent["nested"] == {
        "list": ["data:application/octet-stream;base64,cmF3", ["data:application/octet-stream;base64,aW8="]]
    }
    assert sent["text"] == "keep"
    assert fake.files == {}


def test_large_files_are_uploaded_and_replaced_by_their_url(
    client: Client, fake: FakeReplicate, tmp_path: Path
) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(b"w" * (DATA_URL_LIMIT + 1))
    client.predictions.create(model="replicate-min/echo", input={"audio": big})
    [stored] = fake.files.values()
    assert sent_input(fake)["audio"] == stored["urls"]["get"]
    assert stored["name"] == "big.wav" and stored["content_type"] in ("audio/x-wav", "audio/wav")
    assert stored["data"] == big.read_bytes()


@pytest.mark.parametrize(("strategy", "uploads"), [("base64", 0), ("url", 1)])
def test_the_strategy_can_be_forced(client: Client, fake: FakeReplicate, strategy: str, uploads: int) -> None:
    size = DATA_URL_LIMIT + 1 if strategy == "base64" else 10
    client.predictions.create(model="replicate-min/echo", input={"f": b"x" * size}, file_encoding_strategy=strategy)
    assert len(fake.files) == uploads
    assert str(sent_input(fake)["f"]).startswith("data:" if strategy == "base64" else "http")


def test_bad_file_inputs(client: Client, fake: FakeReplicate, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        client.predictions.create(model="replicate-min/echo", input={"f": tmp_path / "missing.png"})
    text = tmp_path / "t.txt"
    text.write_text("x")
    with open(text) as handle, pytest.raises(TypeError, match="binary"):
        client.predictions.create(model="replicate-min/echo", input={"f": handle})
    with pytest.raises(ValueError, match="file_encoding_strategy"):
        client.predictions.create(model="replicate-min/echo", input={}, file_encoding_strategy="inline")
    assert fake.requests == []


def test_files_namespace_create_get_delete(client: Client, fake: FakeReplicate) -> None:
    created = client.files.create(b"abc", filename='we"ird name.txt', metadata={"k": "v"})
    assert created.name == 'we"ird name.txt' and created.size == 3 and created.metadata == {"k": "v"}
    assert created.content_type == "text/plain" and created.checksums["md5"]
    assert client.files.get(created.id) == created
    client.files.delete(created.id)
    with pytest.raises(ReplicateError) as info:
        client.files.get(created.id)
    assert info.value.status == 404

    async def main() -> str:
        made = await client.files.async_create(io.BytesIO(b"async"), filename="a.bin")
        got = await client.files.async_get(made.id)
        await client.files.async_delete(made.id)
        return got.name or ""

    assert asyncio.run(main()) == "a.bin"


def test_files_namespace_refuses_bad_arguments(client: Client, fake: FakeReplicate) -> None:
    with pytest.raises(ValueError, match="input file 'no such file' cannot be read: No such file"):
        client.files.create("no such file")  # a str is a path, as in the official client
    with pytest.raises(ValueError, match="empty string"):
        client.files.create("")
    with pytest.raises(TypeError, match="file must be a path, a binary file or bytes"):
        client.files.create(42)
    with pytest.raises(TypeError):
        client.files.get("")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ["../etc/passwd"]}, "name"),
        ({"size": "9"}, "size"),
        ({"size": True}, "size"),
        ({"metadata": "x"}, "metadata"),
        ({"checksums": [1]}, "checksums"),
        ({"created_at": 5}, "created_at"),
    ],
)
def test_a_file_from_the_server_is_checked_field_by_field(body: Dict[str, Any], field: str) -> None:
    from replicate_min import ValidationError
    from replicate_min._files import File

    with pytest.raises(ValidationError) as info:
        File.from_json({"id": "f1", "urls": {"get": "https://api.replicate.com/v1/files/f1"}, **body})
    assert info.value.field == field


def test_files_list_gives_the_first_page_as_a_list(client: Client, fake: FakeReplicate) -> None:
    first = client.files.create(b"1", filename="one.txt")
    second = client.files.create(b"2", filename="two.txt")
    assert [f.id for f in client.files.list()] == [second.id, first.id]  # newest first
    fake.fail_next(status=200, body={"results": "nope"}, method="GET", path="/v1/files")
    from replicate_min import ValidationError

    with pytest.raises(ValidationError, match="'results' list"):
        client.files.list()


def test_multipart_body_is_well_formed() -> None:
    from email.parser import BytesParser
    from email.policy import HTTP

    body, content_type = multipart({"content": ("a.txt", "text/plain", b"hi\r\n--x"), "metadata": json.dumps({})})
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = list(message.iter_parts())  # type: ignore[attr-defined]
    assert parts[0].get_filename() == "a.txt" and parts[0].get_payload(decode=True) == b"hi\r\n--x"
    assert parts[1].get_payload(decode=True) == b"{}"


def test_download_decodes_data_urls_locally(client: Client, fake: FakeReplicate) -> None:
    assert client.download("data:image/png;base64," + base64.b64encode(b"png").decode()) == b"png"
    assert client.download("data:,hello%20world") == b"hello world"
    assert fake.requests == []
    with pytest.raises(ValueError, match="base64"):
        decode_data_url("data:x;base64,!!!")
    with pytest.raises(ValueError):
        client.download("ftp://x")


def test_download_fetches_with_the_token_only_at_home(client: Client, fake: FakeReplicate) -> None:
    uploaded = client.files.create(b"bytes!")
    assert client.download(uploaded.urls["get"] + "/download") == b"bytes!"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.token}"
    with FakeReplicate() as elsewhere:
        other = Client(api_token=elsewhere.token, base_url=elsewhere.base_url).files.create(b"theirs")
        assert client.download(other.urls["get"] + "/download") == b"theirs"
        assert "authorization" not in elsewhere.requests[-1].headers
    with pytest.raises(ReplicateError) as info:
        client.download(fake.base_url + "/v1/files/missing/download")
    assert info.value.status == 404
    assert asyncio.run(client.async_download("data:,x")) == b"x"


def test_an_output_nested_as_deep_as_the_limit_allows_has_its_files_and_deeper_is_refused(
    client: Client, fake: FakeReplicate
) -> None:
    from replicate_min import ValidationError

    def nested(levels: int) -> Any:
        deep: Any = "data:,bottom"
        for _ in range(levels):
            deep = [deep]
        return deep

    fake.add_model("test/deep", lambda input: nested(input["levels"]))
    output = client.run("test/deep", {"levels": 100})  # the most an output may nest
    for _ in range(100):
        output = output[0]
    assert isinstance(output, FileOutput) and output.read() == b"bottom"
    for levels in (101, 600):
        with pytest.raises(ValidationError, match="nests deeper than"):
            client.run("test/deep", {"levels": levels})


def test_an_upload_inside_run_is_bounded_by_runs_deadline(
    client: Client, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # G5: /v1/files throttles with Retry-After 30; run(timeout=1) must not wait it out.
    import time as real_time

    from replicate_min import ReplicateException, _transport

    slept: list = []

    class RecordingTime:
        def sleep(self, seconds: float) -> None:
            slept.append(seconds)

        def __getattr__(self, name: str) -> Any:
            return getattr(real_time, name)

    monkeypatch.setattr(_transport, "time", RecordingTime())
    fake.fail_next("status", status=429, headers={"Retry-After": "30"}, times=10, path="/v1/files")
    with pytest.raises(ReplicateException):
        client.run("replicate-min/echo", {"prompt": b"x" * (300 * 1024)}, timeout=1)
    assert all(seconds < 1 for seconds in slept), slept  # never a 30 s wait past the deadline
    assert not any(r.path.startswith("/v1/models") for r in fake.requests)  # nothing was created


def test_a_folder_as_an_input_file_is_a_value_error_and_leaks_no_descriptor(tmp_path: Path) -> None:
    import os

    def open_on_the_folder() -> int:  # descriptors of this process that point at the folder
        fds = "/proc/self/fd"
        return sum(1 for fd in os.listdir(fds) if os.path.realpath(os.path.join(fds, fd)) == str(tmp_path.resolve()))

    client = Client(api_token="r8_test", base_url="http://127.0.0.1:9", max_retries=0)
    for _ in range(3):
        with pytest.raises(ValueError, match="not a regular file"):
            client.predictions.create(model="a/b", input={"f": tmp_path})
    if os.path.isdir("/proc/self/fd"):
        assert open_on_the_folder() == 0


def test_a_closed_input_file_is_a_value_error_naming_it() -> None:
    handle = io.BytesIO(b"x")
    handle.close()
    client = Client(api_token="r8_test", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(ValueError, match=r"input file .* cannot be read"):
        client.predictions.create(model="a/b", input={"f": handle})


@pytest.mark.parametrize("url", ["data:;base64,@@@", "data:", "data:text/plain;base64,\u00e9"])
def test_downloading_a_malformed_data_url_is_the_callers_value_error(url: str) -> None:
    from replicate_min import ValidationError

    with pytest.raises(ValueError, match="not a valid data URL") as info:
        Client(api_token="r8_test").download(url)
    assert not isinstance(info.value, ValidationError)


@pytest.mark.parametrize("path", ["a\x00b", "\ud800"], ids=["nul", "surrogate"])
def test_an_input_path_that_is_not_a_path_is_a_value_error_naming_it(path: str) -> None:
    client = Client(api_token="r8_test", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(ValueError, match=r"input file .* cannot be read"):
        client.predictions.create(model="a/b", input={"f": Path(path)})
    with pytest.raises(ValueError, match=r"input file .* cannot be read"):
        client.files.create(path)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), object(), io.BytesIO, {(1, 2): "tuple key"}],
    ids=["nan", "inf", "object", "a-class-with-read", "tuple-key"],
)
def test_an_input_json_cannot_hold_is_a_type_error_naming_input_before_any_upload(
    client: Client, fake: FakeReplicate, value: Any
) -> None:
    big = b"x" * (DATA_URL_LIMIT + 1)  # would be uploaded first, if the input were not checked
    with pytest.raises(TypeError, match="input must be JSON-serializable"):
        client.predictions.create(model="replicate-min/echo", input={"file": big, "bad": value})
    assert not fake.requests


def test_files_create_checks_its_keywords_before_sending(client: Client, fake: FakeReplicate) -> None:
    with pytest.raises(TypeError, match="metadata"):
        client.files.create(b"x", metadata=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="content_type"):
        client.files.create(b"x", content_type=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="filename"):
        client.files.create(b"x", filename="\ud800")
    assert not fake.requests
