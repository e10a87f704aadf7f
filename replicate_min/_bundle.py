"""``bundle OUT.zip``: this package as a zip that imports without compiling anything.

A zip of sources recompiles every module at every cold start: ``zipimport`` cannot write
``__pycache__`` into an archive. The bundle holds each module's source and, beside it, its
bytecode for the running Python (``name.pyc``, which ``zipimport`` tries first). The
bytecode is hash-based and unchecked, so a zip's timestamps never make it stale. Build it
with the Python your serverless function runs, and put the zip on ``sys.path`` (or unzip it).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import List

__all__ = ["bundle"]


def _pyc(source: Path, name: str) -> bytes:
    """Unchecked hash-based bytecode (PEP 552) of ``source``, as ``py_compile`` writes it."""
    import py_compile
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        target = os.path.join(folder, "module.pyc")
        py_compile.compile(
            str(source),
            cfile=target,
            dfile=name,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        with open(target, "rb") as file:
            return file.read()


def bundle(out: Path, *, with_testing: bool = True) -> List[str]:
    """Writes the package to the zip ``out``; returns the archive names written.

    ``with_testing=False`` leaves out ``testing/`` (the fake server), which a deployed
    function does not need.

    Raises:
        ValueError: this copy's sources are not files on disk (it runs from a zip, say).
    """
    root = Path(__file__).resolve().parent
    if not (root / "__init__.py").is_file():
        raise ValueError(f"cannot bundle {root}: its sources are not files (run bundle from a checkout or an install)")
    package = root.name  # a vendored copy keeps its own name
    names: List[str] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or (not with_testing and relative.parts[0] == "testing"):
                continue
            if path.suffix == ".py":
                source = path.read_bytes()
                name = f"{package}/{relative.as_posix()}"
                archive.writestr(name, source)
                archive.writestr(name[:-3] + ".pyc", _pyc(path, name))
                names += [name, name[:-3] + ".pyc"]
            elif path.name == "py.typed":
                archive.writestr(f"{package}/{relative.as_posix()}", b"")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, out)  # never a half-written zip where the caller asked for one
    return names
