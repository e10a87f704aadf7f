"""Every Python example in the README runs, against the fake server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from replicate_min.testing import FakeReplicate, tokens

README = (Path(__file__).parent.parent / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, re.S)
LLAMA = "meta/meta-llama-3-8b-instruct"
LLAMA_VERSION = "5a6809ca6288247d06daf6365557e5e429063f32a21146b2a807c682652136b8"


@pytest.fixture
def readme_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.02, step=0.01) as fake:
        fake.add_model(LLAMA, tokens, version=LLAMA_VERSION)
        monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
        monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
        monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
        yield fake


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(readme_fake: FakeReplicate, index: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(EXAMPLES[index], f"README example {index + 1}", "exec"), {"__name__": "__readme__"})
    if "FakeReplicate()" not in EXAMPLES[index]:  # an example with its own fake talks to that one
        assert readme_fake.requests, "the example sent no request"
