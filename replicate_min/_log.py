"""Logging that costs nothing when nobody listens.

Importing :mod:`logging` costs milliseconds, so debug lines are emitted only when
the application has imported it already (otherwise no handler can be listening).
Warnings are rare and always emitted. Messages never contain the API token.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any

#: The package's own name (``replicate_min``, or whatever a vendored copy is called): two copies
#: in one process log apart.
LOGGER_NAME = __name__.rpartition(".")[0] or __name__


def debug(message: str, *args: Any) -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(LOGGER_NAME).debug(message, *args)


def warning(message: str, *args: Any) -> None:
    import logging

    logging.getLogger(LOGGER_NAME).warning(message, *args)
