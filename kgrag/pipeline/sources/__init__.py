"""Source kinds, one module each, behind one :class:`~kgrag.pipeline.sources.base.SourceBuilder`.

A new kind of recipe source is a new file here, one line in ``SOURCES`` and its name in
:data:`~kgrag.pipeline.recipe.SourceKind`.
"""

from __future__ import annotations

from kgrag.errors import ConfigError
from kgrag.pipeline.sources import (
    corpus,
    ddxplus,
    do_definitions,
    do_disease_symptom,
    hpoa,
    vocabularies,
)
from kgrag.pipeline.sources.base import SourceBuilder

SOURCES: dict[str, SourceBuilder] = {
    "vocabularies": vocabularies.build,
    "hpoa": hpoa.build,
    "ddxplus": ddxplus.build,
    "do_disease_symptom": do_disease_symptom.build,
    "do_definitions": do_definitions.build,
    "corpus": corpus.build,
}


def source_builder(kind: str) -> SourceBuilder:
    """The builder registered for source ``kind``.

    Raises:
        ConfigError: no source kind has that name.
    """
    found = SOURCES.get(kind)
    if found is None:
        raise ConfigError(f"unknown source kind {kind!r}; choose one of {', '.join(SOURCES)}")
    return found


__all__ = ["SOURCES", "SourceBuilder", "source_builder"]
