"""Pause the cyclic garbage collector while building large, acyclic structures.

Loading a concept table allocates millions of small containers; each full collection
pass rescans all of them, which made compiling several times slower.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
