"""Read-only models and versions (``_models``), against the fake's model routes."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import replicate_min
from replicate_min import Client, ValidationError
from replicate_min.model import Model
from replicate_min.testing import FakeReplicate
from replicate_min.version import Version

ECHO = "replicate-min/echo"


def test_models_get_reads_the_model_and_its_latest_version(client: Client, fake: FakeReplicate) -> None:
    model = client.models.get(ECHO)
    assert isinstance(model, Model) and (model.owner, model.name, model.id) == ("replicate-min", "echo", ECHO)
    assert model.visibility == "public" and model.url == "https://replicate.com/replicate-min/echo"
    assert isinstance(model.latest_version, Version)
    assert model.latest_version.id == fake.version_of(ECHO)
    assert model.latest_version.openapi_schema is not None
    assert "Input" in model.latest_version.openapi_schema["components"]["schemas"]


def test_a_version_is_got_by_id_and_listed_and_passed_on_to_create_and_run(client: Client, fake: FakeReplicate) -> None:
    model = client.models.get(("replicate-min", "echo"))
    version = model.versions.get(fake.version_of(ECHO).upper())  # either case
    assert version.id == fake.version_of(ECHO)
    page = model.versions.list()
    assert [v.id for v in page] == [version.id] and page.next is None
    prediction = client.predictions.create(version=version, input={"prompt": "by version"})
    prediction.wait()
    assert prediction.output == "by version"
    assert client.run(version, {"prompt": "run a version"}) == "run a version"
    assert client.run(model, {"prompt": "run a model"}) == "run a model"
    assert fake.requests[-1].path.startswith("/v1/")


def test_the_async_twins(client: Client, fake: FakeReplicate) -> None:
    async def main() -> str:
        model = await client.models.async_get(ECHO)
        version = await model.versions.async_get(fake.version_of(ECHO))
        page = await model.versions.async_list()
        assert [v.id for v in page] == [version.id]
        return version.id

    assert asyncio.run(main()) == fake.version_of(ECHO)


def test_the_module_level_namespace_and_the_official_module_paths(
    fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    from replicate_min._client import reset_default_client

    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    reset_default_client()
    model = replicate_min.models.get(ECHO)
    assert model.versions.get(fake.version_of(ECHO)).id == fake.version_of(ECHO)
    assert replicate_min.version.Version is Version and replicate_min.model.Model is Model


def test_a_missing_model_or_version_is_a_404(client: Client) -> None:
    with pytest.raises(replicate_min.ReplicateError) as info:
        client.models.get("nobody/nothing")
    assert info.value.status == 404
    model = client.models.get(ECHO)
    with pytest.raises(replicate_min.ReplicateError):
        model.versions.get("0" * 64)


@pytest.mark.parametrize(
    ("name", "error"), [("no-slash", ValueError), ("a/b/c", ValueError), (5, TypeError), ("a/b\r\n", ValueError)]
)
def test_a_bad_model_name_is_refused_before_sending(client: Client, name: object, error: type) -> None:
    with pytest.raises(error):
        client.models.get(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["x" * 64, "abc", "", "../" + "a" * 61])
def test_a_bad_version_id_is_refused_before_sending(client: Client, fake: FakeReplicate, bad: str) -> None:
    model = client.models.get(ECHO)
    before = len(fake.requests)
    with pytest.raises(ValueError, match="64-hex"):
        model.versions.get(bad)
    assert len(fake.requests) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"owner": 5, "name": "x"}, "owner"),
        ({"owner": "o", "name": "n", "run_count": "many"}, "run_count"),
        ({"owner": "o", "name": "n", "latest_version": {"id": "../etc"}}, "id"),
        ({"owner": "o", "name": "n", "latest_version": {"id": "a" * 64, "openapi_schema": []}}, "openapi_schema"),
    ],
)
def test_a_malformed_model_from_the_server_names_the_field(
    client: Client, fake: FakeReplicate, body: dict, field: str
) -> None:
    fake.fail_next("status", status=200, body=body, path="/v1/models/")
    with pytest.raises(ValidationError) as info:
        client.models.get(ECHO)
    assert info.value.field == field


def test_unknown_keys_are_kept_and_a_model_pickles_without_its_client(client: Client) -> None:
    model = Model.from_json({"owner": "o", "name": "n", "new_field": 1}, client.requester)
    assert model.extra == {"new_field": 1}
    copy = pickle.loads(pickle.dumps(client.models.get(ECHO)))
    assert copy.id == ECHO and copy.latest_version is not None
