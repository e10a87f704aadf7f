"""Checked by mypy --strict and pyright in the ``type`` tox env, never run.

Each line marked ``# type: ignore[...]`` is a mistake a type checker must catch: mypy's
``warn_unused_ignores`` (part of --strict) fails the env if one stops being an error.
"""

from __future__ import annotations

import replicate_min
from replicate_min import Client, Prediction, Status


def typos_are_errors(client: Client) -> None:
    replicate_min.predictions.craete(model="o/n", input={})  # type: ignore[attr-defined]
    replicate_min.Clinet()  # type: ignore[attr-defined]
    client.predictions.create(model="o/n", input={}, webhok="https://x")  # type: ignore[call-arg]


async def async_typos_are_errors(client: Client) -> None:
    await client.predictions.async_create(model="o/n", imput={})  # type: ignore[call-arg]
    await client.models.predictions.async_create("o/n", wiat=True)  # type: ignore[call-arg]
    await client.deployments.get("o/n").predictions.async_create(input={}, wait="1")  # type: ignore[arg-type]
    name: int = (await client.predictions.async_get("id")).id  # type: ignore[assignment]
    del name


async def async_twins_are_typed(client: Client) -> Prediction:
    page = await client.predictions.async_list()
    first: Prediction = page.results[0]
    del first
    return await client.deployments.predictions.async_create("o/n", {}, wait=5)


def official_extras_are_accepted() -> None:
    # run()/stream() take the official client's **params (each ignored keyword is a UserWarning
    # at run time), so a misspelt keyword there is not a type error; predictions.create stays strict.
    replicate_min.run("o/n", input={}, api_token="r8_x", stream=True)
    replicate_min.stream("o/n", input={}, wiat=True)


def right_names_are_typed(client: Client) -> Status:
    prediction: Prediction = client.predictions.create(model="o/n", input={})
    page = client.predictions.list()
    first: Prediction = page.results[0]
    output = replicate_min.run("o/n", input={}, timeout=5)
    del output, first
    return Status(prediction.status)


def read_only_settings_are_errors(client: Client) -> None:
    client.base_url = "https://example.com"  # type: ignore[assignment]
    client.max_concurrency = 4  # type: ignore[assignment]
    client.poll_interval = 0.1  # a live setting: fine
