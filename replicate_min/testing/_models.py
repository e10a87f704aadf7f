"""The built-in models of the fake server: plain functions of the input, public so tests can reuse them."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List

__all__ = ["WAIT", "ModelFunction", "echo", "fail", "forever", "tokens"]

#: Yield this from a model generator to spend one step without output.
WAIT: Any = object()

#: ``function(input)`` returns the output: a list is emitted item by item, a generator as it
#: yields (``WAIT`` spends a step), any other value after one step; an exception fails the run.
ModelFunction = Callable[[Dict[str, Any]], Any]


def echo(input: Dict[str, Any]) -> Any:
    """``replicate-min/echo``: outputs ``input["prompt"]`` (or the whole input)."""
    return input.get("prompt", input)


def tokens(input: Dict[str, Any]) -> List[str]:
    """``replicate-min/tokens``: the words of ``prompt`` one by one, each after the first with its space."""
    words = str(input.get("prompt", "the quick brown fox jumps over the lazy dog")).split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def fail(input: Dict[str, Any]) -> Any:
    """``replicate-min/fail``: fails with an error."""
    raise RuntimeError("the model failed on purpose")


def forever(input: Dict[str, Any]) -> Iterator[Any]:
    """``replicate-min/forever``: runs until canceled."""
    while True:
        yield WAIT
