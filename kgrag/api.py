"""The notebook-facing functions: ``kgrag.link(text)``, ``kgrag.normalize(mention)``.

The default linker is built once per process over the default concept table (diseases
and findings) and reused.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from kgrag.types import Candidate, Mention

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker

_lock = threading.Lock()


@lru_cache(maxsize=1)
def default_linker() -> ConceptLinker:
    """The shared :class:`~kgrag.linking.linker.ConceptLinker` (built on first use)."""
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.compiled import load_concepts

    with _lock:
        return ConceptLinker(load_concepts())


def link(text: str) -> list[Mention]:
    """Mentions of diseases and findings in ``text``, with assertion and ranked candidates.

    >>> [ (m.text, m.assertion.value) for m in kgrag.link("No fever but chest pain.") ]
    ... # doctest: +SKIP
    [('fever', 'absent'), ('chest pain', 'present')]
    """
    return default_linker().link(text)


def normalize(mention: str, context: str | None = None, k: int = 5) -> list[Candidate]:
    """The top-``k`` concepts for a mention string (``context``: its document, optional)."""
    return default_linker().normalize(mention, context, k)
