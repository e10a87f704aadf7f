"""``Page``: one page of a list endpoint, and ``paginate`` to walk every page.

This module imports ``typing`` at run time (about 2 ms), so that ``Page[Prediction]`` is a
real generic alias and ``typing.get_type_hints(Page)`` resolves. ``import replicate_min``
does not load it: the package resolves ``Page`` and ``paginate`` on first use (PEP 562),
and the client imports it on the first ``list()``.
"""

from __future__ import annotations

import inspect  # already loaded: dataclasses imports it
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Generic, Iterator, List, Optional, Tuple, TypeVar, overload

from ._exceptions import ValidationError, excerpt

__all__ = ["CursorGuard", "Page", "async_paginate", "paginate", "parse_page"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Page(Generic[T]):
    """One page of results. Iterating, indexing and slicing a page work on its results.

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

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> List[T]: ...

    def __getitem__(self, index: Any) -> Any:
        """``page[0]`` is the first result, ``page[-1]`` the last; a slice is a list, as in the official client."""
        return self.results[index]


def parse_page(data: Any, parse_item: Callable[[Any], T]) -> Page[T]:
    """Validates a page body and parses each result with ``parse_item``."""
    if not isinstance(data, dict):
        raise ValidationError(f"a page must be a JSON object, got {excerpt(data)}", value=data)
    results = data.get("results")
    if not isinstance(results, list):
        raise ValidationError(
            f"page field 'results' must be a list, got {excerpt(results)}", field="results", value=results
        )
    from ._requester import check_url

    for name in ("next", "previous"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationError(
                f"page field {name!r} must be a URL string or null, got {excerpt(value)}", field=name, value=value
            )
        if value:
            check_url(name, value)  # the next request goes there: an http(s) URL, or ValidationError
    return Page([parse_item(item) for item in results], data.get("next"), data.get("previous"))


_POSITIONAL = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.VAR_POSITIONAL,
)


def _protocol(list_page: Callable[..., R]) -> Tuple[Callable[[], R], Callable[[str], R]]:
    """How to ask ``list_page`` for the first page, and for the page at a cursor.

    A function that takes a positional argument is called as the official client calls it:
    ``list_page(...)`` (Ellipsis: "no cursor yet", which ``predictions.list`` accepts) and
    then ``list_page(next_url)``. One whose cursor is keyword-only is called ``list_page()``
    (``list_page(cursor=...)`` if the cursor has no default), then ``list_page(cursor=next_url)``.
    """
    if not callable(list_page):
        raise TypeError(f"paginate() takes a list method such as client.predictions.list, got {excerpt(list_page)}")
    try:
        parameters = inspect.signature(list_page).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): the official protocol
        parameters = None
    if parameters is None or any(parameter.kind in _POSITIONAL for parameter in parameters):
        return lambda: list_page(...), list_page
    if any(p.kind is p.KEYWORD_ONLY and p.name == "cursor" and p.default is p.empty for p in parameters):
        return lambda: list_page(cursor=...), lambda cursor: list_page(cursor=cursor)
    return list_page, lambda cursor: list_page(cursor=cursor)


class CursorGuard:
    """Stops a walk over pages that would never end: a server whose pages link A -> B -> A,
    or that gives the same page again under a ``next`` that only looks new (another
    ``#fragment``, which never reaches the server, or a query parameter that changes nothing),
    would otherwise be followed for ever, memory growing. Keeps two hashes per page read
    (bytes, not the URLs or the results), which grow with the pages read, never past them.
    """

    __slots__ = ("_cursors", "_empty", "_pages")

    #: Empty pages in a row that end a walk: they have no ids to tell a repeat by.
    MAX_EMPTY_PAGES = 100

    def __init__(self) -> None:
        self._cursors: set[int] = set()
        self._pages: set[int] = set()
        self._empty = 0

    def next_of(self, page: Page[Any]) -> str:
        """``page.next``, if it leads somewhere new.

        Raises:
            ValidationError: the server sent a ``next`` it sent before (a cycle), this page
            holds the same results, by id, as a page read before (the same page again), or
            it is the ``MAX_EMPTY_PAGES``-th empty page in a row.
        """
        cursor = page.next
        assert cursor is not None
        ids = tuple(getattr(item, "id", None) for item in page.results)
        self._empty = 0 if ids else self._empty + 1
        if self._empty >= self.MAX_EMPTY_PAGES:
            self._cycle(cursor, f"follows {self._empty} empty pages in a row")
        if ids and None not in ids:  # (results without ids, or none: their cursors alone decide)
            key = hash(ids)
            if key in self._pages:
                self._cycle(cursor, "holds the same results as a page already read")
            self._pages.add(key)
        key = hash(cursor.partition("#")[0])
        if key in self._cursors:
            self._cycle(cursor, "points back to a page already read")
        self._cursors.add(key)
        return cursor

    @staticmethod
    def _cycle(cursor: str, why: str) -> None:
        raise ValidationError(
            f"the server's page cursor {excerpt(cursor)} {why}: the pages form a cycle, so pagination stopped",
            field="next",
            value=cursor,
        )


def paginate(list_page: Callable[..., Page[T]]) -> Iterator[Page[T]]:
    """Yields every page, following ``next``: ``for page in paginate(client.predictions.list)``.

    ``list_page`` takes the cursor positionally, as with the official client
    (``list_page(...)`` for the first page, then ``list_page(page.next)``), or as the
    keyword ``cursor`` (``list_page()``, then ``list_page(cursor=page.next)``).
    """
    first, at = _protocol(list_page)
    guard = CursorGuard()
    page = _page(first())
    yield page
    while page.next:
        page = _page(at(guard.next_of(page)))
        yield page


async def async_paginate(list_page: Callable[..., Awaitable[Page[T]]]) -> AsyncIterator[Page[T]]:
    """The async twin of ``paginate``: ``async for page in async_paginate(client.predictions.async_list)``."""
    first, at = _protocol(list_page)
    guard = CursorGuard()
    page = _page(await first())
    yield page
    while page.next:
        page = _page(await at(guard.next_of(page)))
        yield page


def _page(value: Any) -> Page[Any]:
    if not isinstance(value, Page):
        raise TypeError(f"paginate()'s list_page must return a Page, got {excerpt(value)}")
    return value
