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

LOGGER_NAME = "replicate_min"


def debug(message: str, *args: Any) -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(LOGGER_NAME).debug(message, *args)


def warning(message: str, *args: Any) -> None:
    import logging

    logging.getLogger(LOGGER_NAME).warning(message, *args)
