"""``Page``: one page of a list endpoint, and ``paginate`` to walk every page."""

from __future__ import annotations

from dataclasses import dataclass

from ._exceptions import ValidationError, excerpt

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, AsyncIterator, Awaitable, Callable, Generic, Iterator, List, Optional, TypeVar

    T = TypeVar("T")

    class _Generic(Generic[T]):
        pass

else:
    T = object

    class _Generic:
        """``Page[Prediction]`` works at run time without importing typing."""

        def __class_getitem__(cls, item: object) -> type:
            return cls


__all__ = ["Page", "async_paginate", "paginate", "parse_page"]


@dataclass
class Page(_Generic[T]):
    """One page of results. Iterating a page yields its results.

    ``next`` and ``previous`` are full URLs (pass ``next`` as ``cursor=`` to fetch
    the following page), or ``None`` at either end.
    """

    results: List[T]
    next: Optional[str] = None
    previous: Optional[str] = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


def parse_page(data: Any, parse_item: Callable[[Any], T]) -> Page[T]:
    """Validates a page body and parses each result with ``parse_item``."""
    if not isinstance(data, dict):
        raise ValidationError(f"a page must be a JSON object, got {excerpt(data)}", value=data)
    results = data.get("results")
    if not isinstance(results, list):
        raise ValidationError(
            f"page field 'results' must be a list, got {excerpt(results)}", field="results", value=results
        )
    for name in ("next", "previous"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationError(
                f"page field {name!r} must be a URL string or null, got {excerpt(value)}", field=name, value=value
            )
    return Page([parse_item(item) for item in results], data.get("next"), data.get("previous"))


def paginate(list_page: Callable[..., Page[T]]) -> Iterator[Page[T]]:
    """Yields every page, following ``next``: ``for page in paginate(client.predictions.list)``."""
    page = list_page()
    yield page
    while page.next:
        page = list_page(cursor=page.next)
        yield page


async def async_paginate(list_page: Callable[..., Awaitable[Page[T]]]) -> AsyncIterator[Page[T]]:
    """The async twin of ``paginate``: ``async for page in async_paginate(client.predictions.async_list)``."""
    page = await list_page()
    yield page
    while page.next:
        page = await list_page(cursor=page.next)
        yield page
