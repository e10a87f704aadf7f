"""What a forked child must not share with its parent.

After ``os.fork()`` (a ``ProcessPoolExecutor`` or ``multiprocessing.Pool`` on Linux before
Python 3.14, gunicorn ``--preload``, Celery prefork) the child holds copies of every pooled
socket, every lock as it was at that instant (held, if another thread held it), and no
thread but the one that forked. A pooled socket used from both processes hands each the
other's answers; a worker count or a watchdog that names a thread the child lacks hangs.

Objects that hold such state register here, weakly (the hook keeps none alive), and are
reset in the child by ``os.register_at_fork(after_in_child=...)``: each drops its
references without closing anything the parent still uses.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Callable, List

__all__ = ["on_fork_in_child", "track"]

_TRACKED: weakref.WeakSet[Any] = weakref.WeakSet()  # objects with an _after_fork_in_child()
_HOOKS: List[Callable[[], None]] = []  # module-level state: reset functions, held strongly


def track(obj: Any) -> None:
    """Calls ``obj._after_fork_in_child()`` in every forked child while ``obj`` lives."""
    _TRACKED.add(obj)


def on_fork_in_child(reset: Callable[[], None]) -> None:
    """Calls ``reset()`` in every forked child (for module-level state)."""
    _HOOKS.append(reset)


def _in_child() -> None:
    for reset in list(_HOOKS):
        reset()
    for obj in list(_TRACKED):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_in_child)
