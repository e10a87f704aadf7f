"""Read-only models and versions: ``models.get("owner/name")``, ``model.versions.get(id)``.

What programs written for the official client read: a model's ``latest_version`` and a
version's ``id`` and ``openapi_schema``, passed on to ``predictions.create`` or ``run``
(both take a ``Model`` or a ``Version`` as the official client's do). Creating, updating
and deleting models stays out of scope, and so do trainings, collections and hardware.
Every field from the server is checked and named when wrong; unknown keys are kept in
``extra``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Optional

from ._create import _owner_name
from ._exceptions import ValidationError, excerpt, json_field, json_object
from ._pagination import Page, parse_page
from ._requester import Requester, async_twin, check_caller_url, default_requester
from ._urls import path_segment

__all__ = ["Model", "ModelVersions", "Version"]

_VERSION_ID = re.compile(r"[0-9a-fA-F]{64}")
_MODEL_FIELDS = (
    "url",
    "owner",
    "name",
    "description",
    "visibility",
    "github_url",
    "paper_url",
    "license_url",
    "run_count",
    "cover_image_url",
    "default_example",
    "latest_version",
)


@dataclass
class Version:
    """A model version: ``id`` (64 hex), ``created_at``, ``cog_version`` and ``openapi_schema``."""

    id: str
    created_at: Optional[str] = None
    cog_version: Optional[str] = None
    openapi_schema: Optional[Dict[str, Any]] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> Version:
        data = json_object("a version", data)
        ident = json_field("version", data, "id", str, True)
        if not _VERSION_ID.fullmatch(ident):
            raise ValidationError(f"version field 'id' is not a 64-hex version id: {excerpt(ident)}", field="id")
        known = ("id", "created_at", "cog_version", "openapi_schema")
        return cls(
            id=ident.lower(),
            created_at=json_field("version", data, "created_at", str),
            cog_version=json_field("version", data, "cog_version", str),
            openapi_schema=json_field("version", data, "openapi_schema", dict),
            extra={key: value for key, value in data.items() if key not in known},
        )


class ModelVersions:
    """``model.versions``: ``get(id)`` and ``list()`` (a ``Page``), with async twins."""

    def __init__(self, requester: Requester, model: Model) -> None:
        self._requester = requester
        self._model = model

    def __repr__(self) -> str:
        return f"<ModelVersions of {self._model.id}>"

    def _path(self, tail: str = "") -> str:
        return f"/v1/models/{path_segment(self._model.owner)}/{path_segment(self._model.name)}/versions{tail}"

    def get(self, id: str) -> Version:
        """The version ``id`` (64 hex, either case) of this model.

        Raises:
            ValueError: ``id`` is not a 64-hex version id (nothing is sent).
            ReplicateError: 404 if the model has no such version.
        """
        if not isinstance(id, str):
            raise TypeError(f"id must be a 64-hex version id string, got {excerpt(id)}")
        if not _VERSION_ID.fullmatch(id):
            raise ValueError(f"id must be a 64-hex version id, got {id[:80]!r}")
        return Version.from_json(self._requester.request("GET", self._path("/" + id.lower())))

    def list(self, cursor: Optional[str] = None) -> Page[Version]:
        """One page of this model's versions, newest first; ``cursor`` is a page's ``next`` URL."""
        target = self._path() if cursor is None else check_caller_url("cursor", cursor)
        return parse_page(self._requester.request("GET", target), Version.from_json)

    async_get = async_twin(get)
    async_list = async_twin(list)


@dataclass
class Model:
    """A model, as ``GET /v1/models/{owner}/{name}`` describes it.

    ``run(model)`` and ``predictions.create(model=model)`` take it; ``latest_version`` is a
    ``Version`` (or ``None`` for a model with no public version); ``versions`` fetches others.
    """

    owner: str
    name: str
    url: Optional[str] = None
    description: Optional[str] = None
    visibility: Optional[str] = None
    github_url: Optional[str] = None
    paper_url: Optional[str] = None
    license_url: Optional[str] = None
    run_count: Optional[int] = None
    cover_image_url: Optional[str] = None
    default_example: Optional[Dict[str, Any]] = None
    latest_version: Optional[Version] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _requester: ClassVar[Optional[Requester]] = None  # set per instance; never a field

    @classmethod
    def from_json(cls, data: Any, requester: Optional[Requester] = None) -> Model:
        data = json_object("a model", data)
        latest = data.get("latest_version")
        model = cls(
            owner=json_field("model", data, "owner", str, True),
            name=json_field("model", data, "name", str, True),
            url=json_field("model", data, "url", str),
            description=json_field("model", data, "description", str),
            visibility=json_field("model", data, "visibility", str),
            github_url=json_field("model", data, "github_url", str),
            paper_url=json_field("model", data, "paper_url", str),
            license_url=json_field("model", data, "license_url", str),
            run_count=json_field("model", data, "run_count", int),
            cover_image_url=json_field("model", data, "cover_image_url", str),
            default_example=json_field("model", data, "default_example", dict),
            latest_version=None if latest is None else Version.from_json(latest),
            extra={key: value for key, value in data.items() if key not in _MODEL_FIELDS},
        )
        model.__dict__["_requester"] = requester
        return model

    @property
    def id(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    @property
    def versions(self) -> ModelVersions:
        """This model's versions (read-only), through the client it was fetched with."""
        return ModelVersions(self._requester or default_requester(), self)

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_requester", None)  # a client holds locks and sockets: not data
        return state


def get_model(requester: Requester, name: Any) -> Model:
    """``GET /v1/models/{owner}/{name}``; ``name`` is ``owner/name`` or ``(owner, name)``."""
    owner, _, short = _owner_name("model", name).partition("/")
    path = f"/v1/models/{path_segment(owner)}/{path_segment(short)}"
    return Model.from_json(requester.request("GET", path), requester)
