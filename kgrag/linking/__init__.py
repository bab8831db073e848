"""Concept linking: text -> mentions of unified concepts with assertions.

``ConceptLinker`` (dictionary + abbreviations + sieve + fuzzy + optional dense) is the
default; ``ScispacyLinker`` (optional extra) is the alternative and benchmark peer.
"""

from kgrag.linking.base import Linker, Normalizer
from kgrag.linking.linker import ConceptLinker

__all__ = ["ConceptLinker", "Linker", "Normalizer"]
