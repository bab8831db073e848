"""``kgrag build``: run a recipe (declarative TOML in ``ingest/``) into a graph store.

Each source is built on its own, under its own provenance name, and recorded in the
store's meta table with a fingerprint of its inputs. A rerun skips sources whose
fingerprint is unchanged, deletes and rebuilds the others (a corpus whose files alone
changed is updated document by document), and resumes a build that was
killed half-way (the store says ``status = building`` until every source is done, so a
half-written graph is never marked complete).

This module is only the loop: recipes are read by :mod:`~kgrag.pipeline.recipe`, each
source kind is built by its module in :mod:`kgrag.pipeline.sources` from an explicit
:class:`~kgrag.pipeline.context.BuildContext`, and the reports are
:mod:`~kgrag.pipeline.report`'s.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kgrag.config import Settings, get_settings
from kgrag.errors import BuildInterrupted
from kgrag.graph.base import GraphStore
from kgrag.ontology.records import Warnings
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.context import BuildContext, BuildOptions
from kgrag.pipeline.fingerprints import PACKAGE, code_digest, digest, files_digest
from kgrag.pipeline.private import make_private
from kgrag.pipeline.recipe import (
    Recipe,
    SourceKind,
    SourceSpec,
    default_recipe_path,
    load_recipe,
)
from kgrag.pipeline.report import BuildReport, SourceReport
from kgrag.pipeline.sources import source_builder
from kgrag.progress import Progress
from kgrag.retrieval.consistency import GENERATION_KEY

logger = logging.getLogger(__name__)

SOURCES_KEY = "sources"  # meta: the names of the sources the last build's recipe lists

__all__ = [
    "SOURCES_KEY",
    "BuildOptions",
    "BuildReport",
    "Builder",
    "Recipe",
    "SourceKind",
    "SourceReport",
    "SourceSpec",
    "default_recipe_path",
    "load_recipe",
    "make_private",
]


class Builder:
    """Runs one recipe into one store."""

    def __init__(
        self,
        recipe: Recipe,
        store: GraphStore,
        *,
        table: ConceptTable | None = None,
        settings: Settings | None = None,
        progress: Progress | None = None,
        options: BuildOptions | None = None,
    ) -> None:
        from kgrag.ontology.compiled import compiled_path, load_concepts

        (options or BuildOptions()).check()  # before the table and the linker are loaded
        self.recipe = recipe
        self.store = store
        self.settings = settings or get_settings()
        self.say = progress or (lambda step: logger.info("%s", step))
        self.table = table or load_concepts(self.settings, progress=self.say)
        self.table_digest = compiled_path(self.settings).name if table is None else str(len(table))
        self.options = options or BuildOptions()
        self.context = BuildContext(
            recipe,
            store,
            self.table,
            self.settings,
            self.say,
            options=self.options,
            table_digest=self.table_digest,
            code=code_digest(),
            table_file=compiled_path(self.settings) if table is None else None,
        )

    def run(self, *, rebuild: bool = False, wait: float = 0.0) -> BuildReport:
        """Build every source that changed (all with ``rebuild``) under the build lock.

        ``wait``: seconds to wait for another build's lock on the knowledge base.

        Raises:
            BuildLocked: another build holds the lock past ``wait``.
        """
        from kgrag.pipeline.lock import BuildLock, lock_path

        with BuildLock(lock_path(self.store, self.settings), wait=wait), self._private_files():
            return self._run(rebuild)

    def _make_private(self) -> None:
        from kgrag.retrieval.artifacts import artifacts_dir

        directory = getattr(self.store, "directory", None)
        if isinstance(directory, Path):  # the graph's files, the lock, the artifacts
            make_private(directory, only=("graph.sqlite", "build.lock", "retrieval", "parts"))
        else:
            make_private(artifacts_dir(self.store, self.settings))

    @contextmanager
    def _private_files(self) -> Iterator[None]:
        """Make the build's files 0600 and folders 0700 (unless ``kb_private`` is false).

        Files made during the build are 0600 and folders 0700 (umask 077), and those
        already in the knowledge base are set so (``kb_private = false``: left alone).
        """
        if not self.settings.kb_private:
            yield
            return
        old = os.umask(0o077)
        try:
            self._make_private()
            yield
        finally:
            os.umask(old)
            self._make_private()

    def _run(self, rebuild: bool) -> BuildReport:
        self.context.rebuild = rebuild
        started = time.perf_counter()
        # readers compare this stamp before and after each request (retrieval.consistency)
        generation = self.store.get_meta(GENERATION_KEY) or "0"
        self.store.set_meta(GENERATION_KEY, str(int(generation) + 1 if generation.isdigit() else 1))
        self.store.set_meta("status", "building")
        self.store.set_meta("recipe", self.recipe.name)
        reports: list[SourceReport] = []
        failed = False
        self._remove_sources_not_in_recipe()
        vocab_fp = self._fingerprint(self.recipe.sources[0]) if self.recipe.sources else ""
        for spec in self.recipe.sources:
            name = spec.name or spec.kind
            # base: what the source is built with; fp adds the corpus files themselves
            base = digest(self._fingerprint(spec), vocab_fp, code_digest())
            fp = digest(base, files_digest(self.recipe, spec))
            if not rebuild and self.store.get_meta(f"source:{name}") == fp:
                reports.append(SourceReport(name=name, status="skipped"))
                self.say(f"{name}: unchanged, skipped")
                continue
            t0 = time.perf_counter()
            try:
                incremental = (
                    spec.kind == "corpus"
                    and not rebuild
                    and self.store.get_meta(f"source:{name}:base") == base
                )
                self.store.set_meta(f"source:{name}", "building")
                if not incremental:
                    removed = self.store.delete_source(name)
                    if any(removed.values()):
                        self.say(f"{name}: removed the previous version {removed}")
                report = self._build_source(spec, name, incremental=incremental)
                self.store.set_meta(f"source:{name}:base", base)
                self.store.set_meta(f"source:{name}", fp)
                report = report.model_copy(update={"seconds": round(time.perf_counter() - t0, 1)})
                reports.append(report)
                self.say(f"{name}: {report.nodes:,} nodes, {report.edges:,} edges in {report.seconds}s")
            except Exception as e:  # report it, keep the graph marked incomplete
                failed = True
                reports.append(
                    _failed(name, e).model_copy(update={"seconds": round(time.perf_counter() - t0, 1)})
                )
                if spec.kind == "vocabularies":
                    break  # everything else hangs off the concept nodes
        retrieval: dict[str, int] = {}
        if not failed:
            try:
                retrieval = self._retrieval_artifacts(rebuild)
            except Exception as e:
                failed = True
                reports.append(_failed("retrieval", e))
        status = "incomplete" if failed else "complete"
        self.store.set_meta("status", status)
        return BuildReport(
            store=self.store.name,
            status=status,
            recipe=self.recipe.name,
            sources=reports,
            seconds=round(time.perf_counter() - started, 1),
            counts=self.store.counts(),
            retrieval=retrieval,
        )

    def _remove_sources_not_in_recipe(self) -> None:
        """Delete what earlier builds wrote for sources this recipe does not list.

        The knowledge base holds what its last recipe names: ``kgrag build`` after ``kgrag
        build full`` (finished or interrupted) removes the full recipe's extra corpora, so the
        graph and the retrieval artifacts describe the same sources. The names of every
        source built into the store are kept in its meta table (``sources``).
        """
        wanted = [s.name or s.kind for s in self.recipe.sources]
        try:
            built = json.loads(self.store.get_meta(SOURCES_KEY) or "[]")
        except json.JSONDecodeError:
            built = []
        for name in [b for b in built if isinstance(b, str) and b not in wanted]:
            removed = self.store.delete_source(name)
            self.store.set_meta(f"source:{name}", "")
            self.store.set_meta(f"source:{name}:base", "")
            self.say(f"{name}: not in recipe {self.recipe.name!r}, removed {removed}")
        self.store.set_meta(SOURCES_KEY, json.dumps(wanted))

    def _retrieval_artifacts(self, rebuild: bool) -> dict[str, int]:
        """The diagnostic model and passage index, remade when any source changed."""
        from kgrag.retrieval.artifacts import META_KEY, artifacts_dir, build_artifacts
        from kgrag.retrieval.manifest import intact

        sources = [self.store.get_meta(f"source:{s.name or s.kind}") for s in self.recipe.sources]
        fp = digest(sources, self.recipe.encoder, code_digest(PACKAGE / "retrieval"))
        present = intact(artifacts_dir(self.store, self.settings), fp)  # manifest: whole, this build's
        if not rebuild and present and self.store.get_meta(META_KEY) == fp:
            self.say("retrieval artifacts: unchanged, skipped")
            return {}
        t0 = time.perf_counter()
        counts = build_artifacts(
            self.store,
            fingerprint=fp,
            encoder=self.recipe.encoder,
            settings=self.settings,
            progress=self.say,
            part_embeddings=self._part_embeddings(),
        )
        self.say(f"retrieval artifacts: {counts} in {time.perf_counter() - t0:.1f}s")
        return counts

    def _part_embeddings(self) -> list[Path]:
        """The embeddings files of the corpus sources' parts (the embed stage's output)."""
        from kgrag.index.part_embeddings import embedding_files
        from kgrag.pipeline.parts import is_part
        from kgrag.pipeline.sources.corpus import parts_dir

        parts: list[Path] = []
        for spec in self.recipe.sources:
            folder = parts_dir(self.context, spec.name or spec.kind)
            if spec.kind == "corpus" and folder.is_dir():
                parts.extend(p for p in sorted(folder.iterdir()) if is_part(p))
        return embedding_files(parts)

    def _fingerprint(self, spec: SourceSpec) -> str:
        return digest(spec, self.table_digest)

    def _build_source(self, spec: SourceSpec, name: str, *, incremental: bool = False) -> SourceReport:
        warnings = Warnings(name)
        build = source_builder(spec.kind)
        return build(self.context, spec, name, warnings, incremental=incremental)


def _failed(name: str, e: Exception) -> SourceReport:
    """The report of a failed source, logged.

    An error kgrag raises on purpose says what to do (logged without a traceback); anything
    else is a fault, logged with its traceback.

    ``remedy``: ``resume`` where rerunning can succeed (a dead worker, a damaged part, a store
    that went away, a fault), ``fix`` where the input must change first (a recipe, a path, an
    extra, an encoder).
    """
    from kgrag.errors import GraphUnavailable, GraphWriteError, KgragError, PartDamaged

    if isinstance(e, KgragError):
        logger.error("%s failed: %s", name, e)
    else:
        logger.exception("%s failed", name)
    transient = (BuildInterrupted, PartDamaged, GraphUnavailable, GraphWriteError)
    fix = isinstance(e, KgragError) and not isinstance(e, transient)
    return SourceReport(name=name, status="failed", error=str(e), remedy="fix" if fix else "resume")
