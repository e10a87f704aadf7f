"""The package's standing promises: public surface, light import, vendorable, typed."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any, Iterator, Set

import replicate_min

PACKAGE = Path(replicate_min.__file__).parent


def test_all_matches_the_real_exports() -> None:
    """``__all__``, the lazy table and the names type checkers see must all agree."""
    eager = {
        name
        for name, value in vars(replicate_min).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and name not in replicate_min._LAZY
    }
    assert set(replicate_min.__all__) == set(replicate_min._LAZY) | eager | {"predictions", "__version__"}
    assert len(replicate_min.__all__) == len(set(replicate_min.__all__))
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    typed = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.level == 1 and statement.module:
                    typed.update({alias.name: statement.module for alias in statement.names})
    assert typed == {name: module.lstrip(".") for name, module in replicate_min._LAZY.items()}
    for name in replicate_min.__all__:
        value = getattr(replicate_min, name)
        if name not in ("predictions", "__version__"):
            assert value.__module__.startswith("replicate_min"), name
    assert set(replicate_min.__all__) <= set(dir(replicate_min))
    assert inspect.ismodule(replicate_min.exceptions) and inspect.ismodule(replicate_min.webhooks)


def test_exceptions_module_has_the_official_names() -> None:
    from replicate_min import exceptions

    assert exceptions.ModelError is replicate_min.ModelError
    assert exceptions.ReplicateError is replicate_min.ReplicateError
    assert exceptions.ReplicateException is replicate_min.ReplicateException
    assert set(exceptions.__all__) == {n for n in vars(exceptions) if not n.startswith("_")}
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), replicate_min.ReplicateException)


def test_version_is_a_literal_and_nothing_looks_up_metadata() -> None:
    assert isinstance(replicate_min.__version__, str) and replicate_min.__version__.count(".") == 2
    for source in PACKAGE.glob("*.py"):
        assert "importlib" not in source.read_text(), source


def test_py_typed_is_shipped() -> None:
    assert (PACKAGE / "py.typed").exists()


def test_import_loads_no_network_or_asyncio_modules() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(PACKAGE.parent)!r})
        import replicate_min
        replicate_min.Client(api_token="r8_x")
        heavy = ("urllib.request", "http.client", "ssl", "asyncio", "socket", "logging", "sqlite3")
        print(",".join(name for name in heavy if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_a_vendored_copy_works_inside_another_package(tmp_path: Path) -> None:
    vendor = tmp_path / "myapp" / "_vendor"
    vendor.mkdir(parents=True)
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (vendor / "__init__.py").write_text("")
    shutil.copytree(PACKAGE, vendor / "replicate_min", ignore=shutil.ignore_patterns("__pycache__"))
    code = textwrap.dedent(
        """
        import sys
        from myapp._vendor import replicate_min
        from myapp._vendor.replicate_min.testing import FakeReplicate
        assert "replicate_min" not in sys.modules
        with FakeReplicate(start_delay=0.01, step=0.01) as fake:
            client = replicate_min.Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01)
            prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "vendored"})
            prediction.wait()
            print(prediction.output)
            assert [r.output for r in client.batch("replicate-min/echo", [{"prompt": "vendored"}])] == ["vendored"]
        """
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "vendored"


def _checker_only(tree: ast.Module) -> Set[ast.AST]:
    """The nodes under ``if TYPE_CHECKING:``: type checkers read them, Python never runs them."""
    return {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }


def test_every_module_imports_relatively_and_only_the_standard_library() -> None:
    stdlib = set(sys.stdlib_module_names) if sys.version_info >= (3, 10) else None
    for source in PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text())
        checker_only = _checker_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top != "replicate_min", f"{source.name}:{node.lineno} imports replicate_min absolutely"
                # typing_extensions is for the checkers (which ship it), and only under TYPE_CHECKING.
                allowed = top == "typing_extensions" and node in checker_only
                if stdlib is not None and not allowed:
                    assert top in stdlib or top == "__future__", f"{source.name}:{node.lineno} imports {name}"


_PUBLIC_MODULES = ("client", "exceptions", "helpers", "model", "pagination", "prediction", "stream", "version")
_PUBLIC_MODULES += ("webhook", "webhooks", "testing")


def _public_objects() -> Iterator[Any]:
    """Every public name of the package and of its public modules, the classes of what a
    Client holds (``client.models``, ``client.deployments.predictions``, ...), and their methods."""
    import importlib

    values = [getattr(replicate_min, n) for n in replicate_min.__all__ if n not in ("predictions", "__version__")]
    for module in _PUBLIC_MODULES:
        imported = importlib.import_module(f"replicate_min.{module}")
        values += [getattr(imported, name) for name in getattr(imported, "__all__", ())]
    holders: list[Any] = [replicate_min.Client(api_token="t")]
    while holders:  # the classes of the public attributes a client hands out, level by level
        holder = holders.pop()
        for attribute, value in vars(holder).items():
            if not attribute.startswith("_") and type(value).__module__.startswith("replicate_min"):
                if type(value) not in values:
                    values.append(type(value))
                    holders.append(value)
    seen: Set[int] = set()
    for value in values:
        if id(value) in seen or not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        seen.add(id(value))
        yield value
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                if inspect.isfunction(member) and (not attribute.startswith("_") or attribute == "__init__"):
                    yield member


def test_get_type_hints_works_on_every_public_name() -> None:
    checked = 0
    for value in _public_objects():
        if inspect.isclass(value) or inspect.isfunction(value):
            typing.get_type_hints(value)
            checked += 1
    assert checked > 200


def test_module_level_functions_have_real_signatures() -> None:
    for function in (replicate_min.run, replicate_min.stream, replicate_min.async_run, replicate_min.async_stream):
        catch_all = [p for p in inspect.signature(function).parameters.values() if p.kind is p.VAR_KEYWORD]
        # only the official client's extra keywords (issue 20.2), typed object and named params
        assert [(p.name, p.annotation) for p in catch_all] == [("params", "object")], function
        assert {"input", "webhook", "file_encoding_strategy"} <= set(inspect.signature(function).parameters)
    create = inspect.signature(replicate_min.Predictions.async_create).parameters
    assert inspect.Parameter.VAR_KEYWORD not in {parameter.kind for parameter in create.values()}


def test_a_vendored_copy_logs_and_names_itself_by_its_own_name(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(Path(__file__).parent.parent / "replicate_min", tmp_path / "vendored_rm")
    code = (
        "import vendored_rm._log as log, vendored_rm._cli as cli, sys; sys.argv = ['__main__.py'];"
        "print(log.LOGGER_NAME, cli._prog())"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    logger, *command = result.stdout.split()
    assert (logger, command[-2:]) == ("vendored_rm", ["-m", "vendored_rm"]), result.stderr
