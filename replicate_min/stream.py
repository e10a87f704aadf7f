"""Streaming types under the official client's module path, ``replicate.stream``.

``from replicate.stream import ServerSentEvent`` keeps working after ``import replicate_min
as replicate``. As in the official client, the package attribute ``replicate_min.stream``
is the ``stream()`` function, not this module (``__init__`` sees to it); reach the module
with ``from replicate_min.stream import ...`` or through ``sys.modules``.

The names are resolved on first use (PEP 562): the package imports this module eagerly,
and it must cost nothing.
"""

TYPE_CHECKING = False  # keeps typing out of the import: only type checkers read the block
if TYPE_CHECKING:
    from typing import Any

    from ._sse import ServerSentEvent
    from ._streaming import AsyncEventStream, EventStream

__all__ = ["AsyncEventStream", "EventStream", "ServerSentEvent"]

_LAZY = {"AsyncEventStream": "_streaming", "EventStream": "_streaming", "ServerSentEvent": "_sse"}

if not TYPE_CHECKING:  # type checkers see the names above

    def __getattr__(name: str) -> "Any":
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(__import__(f"{__package__}.{module}", fromlist=[name]), name)
        globals()[name] = value
        return value


def __dir__() -> "list[str]":
    return sorted({*globals(), *__all__})
