"""Namespaces that create predictions on a named model or deployment, as the official client spells them.

``client.models.predictions.create(model="owner/name", ...)``,
``client.deployments.predictions.create(deployment="owner/name", ...)`` and
``client.deployments.get("owner/name").predictions.create(...)`` all build one
``CreateRequest`` and post it through ``create_prediction``: one request builder, one set of checks, and ``wait``,
``cancel_after`` and ``file_encoding_strategy`` work on every path. ``Deployment`` keeps
what ``GET /v1/deployments/{owner}/{name}`` returns and no more: managing models and
deployments is out of this client's scope; ``models.get`` reads a model (``_models``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Iterable, Optional, Union

from ._create import CreateRequest, Target, _owner_name
from ._exceptions import json_field, json_object
from ._lazy import Deferred
from ._prediction import Prediction, create_prediction
from ._requester import Requester, async_twin
from ._urls import path_segment

if TYPE_CHECKING:
    from . import _models
else:  # loaded on the first models.get(), or when a hint is resolved
    _models = Deferred(f"{__package__}._models")

__all__ = [
    "Account",
    "Deployment",
    "DeploymentConfiguration",
    "DeploymentPredictions",
    "DeploymentRelease",
    "Deployments",
    "DeploymentsPredictions",
    "Models",
    "ModelsPredictions",
]


class ModelsPredictions:
    """``client.models.predictions``: create a prediction on a model's latest version."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<ModelsPredictions of {self._requester!r}>"

    def create(
        self,
        model: Target,
        input: Optional[Dict[str, Any]] = None,
        *,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        stream: Optional[bool] = None,
        wait: Union[bool, int, None] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
    ) -> Prediction:
        """``predictions.create(model=model, ...)``: ``model`` is ``"owner/name"`` or ``("owner", "name")``."""
        request = CreateRequest(
            input=input,
            model=model,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            stream=stream,
            wait=wait,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        return create_prediction(self._requester, request, None)

    async_create = async_twin(create)


class Models:
    """``client.models``: ``get`` a model (read-only, with its versions) and ``predictions.create``.

    Listing, creating, updating and deleting models are out of scope.
    """

    def __init__(self, requester: Requester) -> None:
        self._requester = requester
        self.predictions = ModelsPredictions(requester)

    def __repr__(self) -> str:
        return f"<Models of {self._requester!r}>"

    def get(self, name: str) -> _models.Model:
        """Fetches a model by ``owner/name`` (or ``(owner, name)``).

        Raises:
            ValueError: ``name`` is not ``owner/name`` (nothing is sent).
            ReplicateError: 404 if there is no such model (or no access to it).
        """
        return _models.get_model(self._requester, name)

    async_get = async_twin(get)


class DeploymentsPredictions:
    """``client.deployments.predictions``: create a prediction on a deployment by name."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<DeploymentsPredictions of {self._requester!r}>"

    def create(
        self,
        deployment: Target,
        input: Optional[Dict[str, Any]] = None,
        *,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        stream: Optional[bool] = None,
        wait: Union[bool, int, None] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
    ) -> Prediction:
        """``predictions.create(deployment=deployment, ...)``.

        ``deployment`` is ``"owner/name"``, ``("owner", "name")`` or a ``Deployment``.
        """
        request = CreateRequest(
            input=input,
            deployment=deployment,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            stream=stream,
            wait=wait,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        return create_prediction(self._requester, request, None)

    async_create = async_twin(create)


class DeploymentPredictions:
    """``deployment.predictions``: create a prediction on this deployment."""

    def __init__(self, requester: Requester, deployment: Deployment) -> None:
        self._requester = requester
        self._deployment = deployment

    def __repr__(self) -> str:
        return f"<DeploymentPredictions of {self._deployment.id!r}>"

    def create(
        self,
        input: Optional[Dict[str, Any]] = None,
        *,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        stream: Optional[bool] = None,
        wait: Union[bool, int, None] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
    ) -> Prediction:
        """Creates a prediction on this deployment (``POST /v1/deployments/{owner}/{name}/predictions``)."""
        request = CreateRequest(
            input=input,
            deployment=self._deployment.id,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            stream=stream,
            wait=wait,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        return create_prediction(self._requester, request, None)

    async_create = async_twin(create)


@dataclass
class Account:
    """The account that created a release: ``type`` (``user`` or ``organization``) and ``username``."""

    type: str
    username: str
    name: Optional[str] = None
    github_url: Optional[str] = None
    avatar_url: Optional[str] = None

    @classmethod
    def from_json(cls, data: Any) -> Account:
        data = json_object("an account", data)
        return cls(
            type=json_field("account", data, "type", str, True),
            username=json_field("account", data, "username", str, True),
            name=json_field("account", data, "name", str),
            github_url=json_field("account", data, "github_url", str),
            avatar_url=json_field("account", data, "avatar_url", str),
        )


@dataclass
class DeploymentConfiguration:
    """How a release runs: its hardware SKU and instance bounds."""

    hardware: Optional[str] = None
    min_instances: Optional[int] = None
    max_instances: Optional[int] = None

    @classmethod
    def from_json(cls, data: Any) -> DeploymentConfiguration:
        data = json_object("a deployment configuration", data)
        return cls(
            hardware=json_field("configuration", data, "hardware", str),
            min_instances=json_field("configuration", data, "min_instances", int),
            max_instances=json_field("configuration", data, "max_instances", int),
        )


@dataclass
class DeploymentRelease:
    """A deployment's release: which model version it runs, and how."""

    number: Optional[int] = None
    model: Optional[str] = None
    version: Optional[str] = None
    created_at: Optional[str] = None
    created_by: Optional[Account] = None
    configuration: Optional[DeploymentConfiguration] = None

    Configuration: ClassVar[type[DeploymentConfiguration]] = DeploymentConfiguration  # the official nesting

    @classmethod
    def from_json(cls, data: Any) -> DeploymentRelease:
        data = json_object("a deployment release", data)
        created_by = data.get("created_by")
        configuration = data.get("configuration")
        return cls(
            number=json_field("release", data, "number", int),
            model=json_field("release", data, "model", str),
            version=json_field("release", data, "version", str),
            created_at=json_field("release", data, "created_at", str),
            created_by=None if created_by is None else Account.from_json(created_by),
            configuration=None if configuration is None else DeploymentConfiguration.from_json(configuration),
        )


@dataclass
class Deployment:
    """A deployment, as ``GET /v1/deployments/{owner}/{name}`` describes it.

    ``deployment.predictions.create(input=...)`` runs it. A deployment fetched through a
    client acts through that client.
    """

    owner: str
    name: str
    current_release: Optional[DeploymentRelease] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    Release: ClassVar[type[DeploymentRelease]] = DeploymentRelease  # the official nesting
    _requester: ClassVar[Optional[Requester]] = None  # set per instance; never a field

    @classmethod
    def from_json(cls, data: Any, requester: Optional[Requester] = None) -> Deployment:
        data = json_object("a deployment", data)
        release = data.get("current_release")
        deployment = cls(
            owner=json_field("deployment", data, "owner", str, True),
            name=json_field("deployment", data, "name", str, True),
            current_release=None if release is None else DeploymentRelease.from_json(release),
            extra={key: value for key, value in data.items() if key not in ("owner", "name", "current_release")},
        )
        deployment.__dict__["_requester"] = requester
        return deployment

    @property
    def id(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    @property
    def predictions(self) -> DeploymentPredictions:
        """Creates predictions on this deployment."""
        from ._requester import default_requester

        return DeploymentPredictions(self._requester or default_requester(), self)

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_requester", None)  # a client holds locks and sockets: not data
        return state


class Deployments:
    """``client.deployments``: ``get`` a deployment and create predictions on one.

    Creating, updating, listing and deleting deployments are out of scope.
    """

    def __init__(self, requester: Requester) -> None:
        self._requester = requester
        self.predictions = DeploymentsPredictions(requester)

    def __repr__(self) -> str:
        return f"<Deployments of {self._requester!r}>"

    def get(self, name: str) -> Deployment:
        """Fetches a deployment by ``owner/name``.

        Raises:
            ReplicateError: 404 if there is no such deployment (or no access to it).
        """
        owner, _, short = _owner_name("deployment", name).partition("/")
        path = f"/v1/deployments/{path_segment(owner)}/{path_segment(short)}"
        return Deployment.from_json(self._requester.request("GET", path), self._requester)

    async_get = async_twin(get)
