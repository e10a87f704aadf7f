"""Page and paginate, without sockets: indexing, generics, and every way a list function takes its cursor."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import replicate_min
from replicate_min import (
    Page,
    Prediction,
    async_paginate,
    paginate,
)

PACKAGE = Path(replicate_min.__file__).parent

# Three pages of a fake list endpoint: the cursor is the full URL of the next page.
PAGES: Dict[Optional[str], Page[int]] = {
    None: Page([1, 2], next="https://api.example/v1/things?cursor=b"),
    "https://api.example/v1/things?cursor=b": Page(
        [3, 4], next="https://api.example/v1/things?cursor=c", previous="https://api.example/v1/things"
    ),
    "https://api.example/v1/things?cursor=c": Page([5], previous="https://api.example/v1/things?cursor=b"),
}


def lookup(cursor: object) -> Page[int]:
    return PAGES[None if cursor is ... else cursor]  # type: ignore[index]


def test_indexing_and_slicing_a_page() -> None:
    page = Page(["a", "b", "c"])
    assert (page[0], page[1], page[-1]) == ("a", "b", "c")
    assert page[0:2] == ["a", "b"] and page[::-1] == ["c", "b", "a"] and page[5:] == []
    with pytest.raises(IndexError):
        page[3]
    assert list(page) == ["a", "b", "c"] and len(page) == 3


def test_page_is_generic_at_run_time() -> None:
    alias = Page[Prediction]
    assert alias is not Page
    assert typing.get_origin(alias) is Page and typing.get_args(alias) == (Prediction,)
    page = Page[int]([1])
    assert isinstance(page, Page) and page.__orig_class__ == Page[int]  # type: ignore[attr-defined]


def test_type_hints_resolve_at_run_time() -> None:
    hints = typing.get_type_hints(Page)
    assert hints["next"] == Optional[str] and hints["previous"] == Optional[str]
    assert typing.get_origin(hints["results"]) is list
    for function in (paginate, async_paginate, replicate_min._pagination.parse_page):
        assert "return" in typing.get_type_hints(function)


def test_importing_the_package_loads_neither_pagination_nor_typing() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(PACKAGE.parent)!r})
        import replicate_min
        print("typing" in sys.modules, "replicate_min._pagination" in sys.modules)
        replicate_min.Page
        print("typing" in sys.modules, "replicate_min._pagination" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "True", "True"]


def ids(pages: Any) -> List[List[int]]:
    return [page.results for page in pages]


EXPECTED = [[1, 2], [3, 4], [5]]


def test_a_positional_cursor_without_a_default_is_called_as_the_official_client_calls_it() -> None:
    calls: List[object] = []

    def list_page(cursor):  # type: ignore[no-untyped-def]  # written for the official client
        calls.append(cursor)
        return lookup(cursor)

    assert ids(paginate(list_page)) == EXPECTED
    assert calls == [..., PAGES[None].next, PAGES[PAGES[None].next].next]


def test_other_shapes_of_list_function() -> None:
    calls: List[object] = []

    def positional_default(cursor: object = ...) -> Page[int]:
        calls.append(cursor)
        return lookup(cursor)

    def keyword_only(*, cursor: Optional[str] = None) -> Page[int]:
        calls.append(cursor)
        return PAGES[cursor]

    def keyword_only_required(*, cursor: object) -> Page[int]:
        calls.append(cursor)
        return lookup(cursor)

    def keywords(**options: Any) -> Page[int]:
        calls.append(options)
        return PAGES[options.get("cursor")]

    class Lister:
        def list(self, cursor: object = ...) -> Page[int]:
            return lookup(cursor)

    for function in (
        positional_default,
        keyword_only,
        keyword_only_required,
        keywords,
        Lister().list,
        functools.partial(lookup),
        lambda c: lookup(c),
    ):
        assert ids(paginate(function)) == EXPECTED, function
    second = PAGES[None].next
    assert calls[:3] == [..., second, PAGES[second].next]  # positional: the official protocol
    assert calls[3:6] == [None, second, PAGES[second].next]  # keyword-only with a default: called with nothing
    assert calls[6] is ...  # keyword-only without a default: cursor=...
    assert calls[9] == {} and calls[10] == {"cursor": second}


def test_a_callable_without_a_readable_signature_gets_the_official_protocol() -> None:
    calls: List[object] = []

    class Opaque:
        __signature__ = "not a Signature"  # inspect.signature raises TypeError, as for some builtins

        def __call__(self, cursor: object) -> Page[int]:
            calls.append(cursor)
            return lookup(cursor)

    assert ids(paginate(Opaque())) == EXPECTED and calls[0] is ...


def test_a_single_page_is_called_once() -> None:
    calls: List[object] = []

    def list_page(cursor: object) -> Page[str]:
        calls.append(cursor)
        return Page(["only"])

    assert ids(paginate(list_page)) == [["only"]] and calls == [...]


def test_async_paginate_with_a_positional_cursor() -> None:
    calls: List[object] = []

    async def list_page(cursor):  # type: ignore[no-untyped-def]
        calls.append(cursor)
        return lookup(cursor)

    async def keyword_only(*, cursor: Optional[str] = None) -> Page[int]:
        return PAGES[cursor]

    async def collect(function: Any) -> List[List[int]]:
        return [page.results async for page in async_paginate(function)]

    assert asyncio.run(collect(list_page)) == EXPECTED and calls[0] is ...
    assert asyncio.run(collect(keyword_only)) == EXPECTED


def test_the_official_module_path_exports_the_same_objects() -> None:
    import replicate_min.pagination as pagination

    assert pagination.__all__ == ["Page", "async_paginate", "paginate"]
    assert (pagination.Page, pagination.paginate, pagination.async_paginate) == (Page, paginate, async_paginate)


def test_paginate_walks_the_clients_pages(client: replicate_min.Client, fake: Any) -> None:
    import replicate_min._client  # noqa: F401  # loaded lazily by the package

    version = fake.version_of("replicate-min/echo")
    created = [client.predictions.create(version=version, input={"prompt": str(n)}) for n in range(3)]

    def list_page(cursor):  # type: ignore[no-untyped-def]  # the official README's shape
        return client.predictions.list(cursor)

    found = [p.id for page in paginate(list_page) for p in page]
    assert found == [p.id for p in reversed(created)]
    first = client.predictions.list()
    assert first[0].id == created[-1].id and [p.id for p in first[0:2]] == found[:2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], None),
        ({"results": None}, "results"),
        ({"results": [], "next": 5}, "next"),
        ({"results": [], "previous": {}}, "previous"),
    ],
)
def test_parse_page_names_the_bad_field(body: Any, field: Optional[str]) -> None:
    from replicate_min._pagination import parse_page

    with pytest.raises(replicate_min.ValidationError) as info:
        parse_page(body, int)
    assert info.value.field == field
    assert parse_page({"results": ["1"], "next": "https://x/y"}, int) == Page([1], "https://x/y")


def test_a_page_of_bound_predictions_pickles(client: replicate_min.Client) -> None:
    import pickle

    client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    page = client.predictions.list()
    copy = pickle.loads(pickle.dumps(page))
    assert type(copy) is type(page) and [p.id for p in copy] == [p.id for p in page] and copy.next == page.next


def _cycle(fake: Any) -> None:
    """Pages A -> B -> A: every list answer names the other page as next, for ever."""
    a, b = f"{fake.base_url}/v1/predictions?cursor=A", f"{fake.base_url}/v1/predictions?cursor=B"
    fake.fail_next("status", status=200, body={"results": [], "next": a}, times=1, path="/v1/predictions")
    fake.fail_next("status", status=200, body={"results": [], "next": b}, times=1, path="/v1/predictions")
    fake.fail_next("status", status=200, body={"results": [], "next": a}, times=10, path="/v1/predictions")


def test_pages_that_link_back_stop_with_a_validation_error(client: replicate_min.Client, fake: Any) -> None:
    from replicate_min.pagination import async_paginate, paginate

    _cycle(fake)
    with pytest.raises(replicate_min.ValidationError, match="cycle") as info:
        for _ in paginate(client.predictions.list):
            pass
    assert info.value.field == "next"

    async def main() -> None:
        async for _ in async_paginate(client.predictions.async_list):
            pass

    _cycle(fake)
    with pytest.raises(replicate_min.ValidationError, match="cycle"):
        asyncio.run(main())


def _same_page_under_new_cursors(fake: Any, kind: str) -> None:
    """One page, for ever, each time naming a next that only looks new."""
    result = {"id": "p1", "status": "starting", "input": {}, "output": None, "urls": {}}
    for n in range(12):
        tail = f"#{n}" if kind == "fragment" else f"&junk={n}"
        body = {"results": [result], "next": f"{fake.base_url}/v1/predictions?cursor=A{tail}"}
        fake.fail_next("status", status=200, body=body, times=1, path="/v1/predictions")


@pytest.mark.parametrize("kind", ["fragment", "query"])
def test_the_same_page_under_cursors_that_only_look_new_stops_with_a_validation_error(
    client: replicate_min.Client, fake: Any, kind: str
) -> None:
    from replicate_min.pagination import paginate

    _same_page_under_new_cursors(fake, kind)
    pages = 0
    with pytest.raises(replicate_min.ValidationError, match="cycle") as info:
        for _ in paginate(client.predictions.list):
            pages += 1
    assert info.value.field == "next" and pages == 2  # the second page was the first again


def test_empty_pages_under_cursors_that_only_look_new_stop_after_a_hundred(
    client: replicate_min.Client, fake: Any
) -> None:
    from replicate_min._pagination import CursorGuard
    from replicate_min.pagination import paginate

    for n in range(CursorGuard.MAX_EMPTY_PAGES + 5):
        body = {"results": [], "next": f"{fake.base_url}/v1/predictions?cursor=A&junk={n}"}
        fake.fail_next("status", status=200, body=body, times=1, path="/v1/predictions")
    pages = 0
    with pytest.raises(replicate_min.ValidationError, match="100 empty pages in a row"):
        for _ in paginate(client.predictions.list):
            pages += 1
    assert pages == CursorGuard.MAX_EMPTY_PAGES


def test_paginate_names_a_list_page_that_is_not_one() -> None:
    from replicate_min.pagination import paginate

    with pytest.raises(TypeError, match="paginate"):
        next(paginate(5))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must return a Page"):
        next(paginate(lambda *args: {"results": []}))  # type: ignore[arg-type, return-value]
