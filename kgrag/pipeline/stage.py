"""The shard stage: read, chunk, link, assert and extract the facts of one shard, into a part.

A :class:`ShardWorker` holds what is costly to make (the concept linker: ~600 MB, seconds to
build) once per worker, and turns each :class:`~kgrag.pipeline.shards.Shard` it is given into
a part (:mod:`kgrag.pipeline.parts`). It never writes to the store. The same worker runs in
the driver (``--engine local``) or in a Ray actor (``--engine ray``).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from kgrag.graph.schema import Tier
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.parts import check_part, edge_row, is_part, node_row, write_part
from kgrag.pipeline.shards import Shard
from kgrag.types import BoundaryModel

logger = logging.getLogger(__name__)

LINKING_FAILED = "linking failed"  # the documents table's failure_kind of a document not linked


class ShardTask(BoundaryModel):
    """What every shard of one corpus source is built with (picklable: sent to workers)."""

    folder: str = Field(description="the corpus folder, resolved")
    format: str | None = None
    source: str = Field(description="the provenance name")
    max_chars: int
    parts_dir: str = Field(description="where the source's parts are written")
    linker_kinds: tuple[str, ...] = ("disease", "finding")


def disease_tier(table: ConceptTable, tiers: Sequence[Tier]) -> Callable[[str], bool]:
    """Whether a concept id is a disease-tier concept of ``table`` (``tiers``: per row)."""

    def is_disease(concept_id: str) -> bool:
        i = table.index_of(concept_id)
        return i is not None and tiers[i] is Tier.DISEASE

    return is_disease


class ShardWorker:
    """Builds parts from shards, with one linker for all of them.

    Args:
        table: the concept table.
        task: the source's settings.
        is_disease: which concepts are disease-tier (default: computed from ``table``).
    """

    def __init__(
        self, table: ConceptTable, task: ShardTask, is_disease: Callable[[str], bool] | None = None
    ) -> None:
        self.table = table
        self.task = task
        self._is_disease = is_disease
        self._linker: Any = None

    def _state(self) -> tuple[Any, Callable[[str], bool]]:
        if self._linker is None:
            from kgrag.linking.linker import ConceptLinker

            self._linker = ConceptLinker(self.table, kinds=list(self.task.linker_kinds))
        if self._is_disease is None:
            from kgrag.graph.tiers import assign_tiers

            self._is_disease = disease_tier(self.table, assign_tiers(self.table))
        return self._linker, self._is_disease

    def run(self, shard: Shard) -> tuple[Path, bool]:
        """Make ``shard``'s part unless it exists.

        Returns:
            The part's folder, and whether it was made now (False: a finished part was reused).
        """
        from kgrag.corpus.documents import ReadFailure, read_file
        from kgrag.pipeline import corpus

        parts = Path(self.task.parts_dir)
        part = parts / shard.fingerprint
        if is_part(part):
            problem = check_part(part)
            if problem is None:
                return part, False
            logger.warning(
                "%s: part %s is damaged (%s): linked again", self.task.source, part.name, problem
            )
            shutil.rmtree(part, ignore_errors=True)
        linker, is_disease = self._state()
        folder = Path(self.task.folder)
        tables: dict[str, list[dict[str, Any]]] = {"documents": [], "nodes": [], "edges": []}
        for name in shard.files:
            doc = read_file(
                folder / name,
                folder,
                format=self.task.format,
                source=self.task.source,
                max_chars=self.task.max_chars,
            )
            if doc is None:
                continue
            row: dict[str, Any] = {"path": name, "doc_node": None, "checksum": None}
            if isinstance(doc, ReadFailure):
                tables["documents"].append({**row, "failure_kind": doc.kind, "failure": doc.reason})
                continue
            row.update(doc_node=corpus.document_node_id(doc.id), checksum=doc.checksum)
            try:  # one document's chunking or linking failure skips that document alone
                nodes, edges = corpus.document_records(
                    doc, linker, self.task.source, is_disease=is_disease
                )
            except Exception as e:
                logger.warning(
                    "%s: document %s not linked: %s", self.task.source, doc.id, type(e).__name__
                )
                failure = f"{doc.path}: {type(e).__name__}: {e}"
                tables["documents"].append({**row, "failure_kind": LINKING_FAILED, "failure": failure})
                continue
            tables["documents"].append({**row, "failure_kind": None, "failure": None})
            tables["nodes"].extend(node_row(name, i, n) for i, n in enumerate(nodes))
            tables["edges"].extend(edge_row(name, i, e) for i, e in enumerate(edges))
        return write_part(parts, shard.fingerprint, tables), True
