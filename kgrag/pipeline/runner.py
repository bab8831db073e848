"""``kgrag build``: run a recipe (declarative TOML in ``ingest/``) into a graph store.

Each source is built on its own, under its own provenance name, and recorded in the
store's meta table with a fingerprint of its inputs. A rerun skips sources whose
fingerprint is unchanged, deletes and rebuilds the others (a corpus whose files alone
changed is updated document by document), and resumes a build that was
killed half-way (the store says ``status = building`` until every source is done, so a
half-written graph is never marked complete).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kgrag.config import Settings, get_settings
from kgrag.corpus.documents import DEFAULT_MAX_CHARS
from kgrag.errors import ConfigError, RecipePathRefused
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Edge, GraphCounts, Node
from kgrag.ontology.records import Warnings
from kgrag.ontology.table import ConceptTable
from kgrag.progress import Progress, counted
from kgrag.retrieval.consistency import GENERATION_KEY

if TYPE_CHECKING:
    from kgrag.ontology.ddxplus import DdxCondition
from kgrag.types import BoundaryModel

_PACKAGE = Path(__file__).resolve().parents[1]

logger = logging.getLogger(__name__)

SOURCES_KEY = "sources"  # meta: the names of the sources the last build's recipe lists

SourceKind = Literal[
    "vocabularies", "hpoa", "ddxplus", "do_disease_symptom", "do_definitions", "corpus"
]


class SourceSpec(BaseModel):
    """One source of an ingest recipe: an ontology, a corpus folder or a mapping, with its options."""

    model_config = ConfigDict(extra="forbid")
    kind: SourceKind
    name: str | None = Field(default=None, description="provenance name; defaults to kind")
    path: str | None = Field(default=None, description="corpus folder, relative to the recipe")
    format: str | None = Field(default=None, description="corpus format: medquad, text, ...")
    limit: int | None = Field(default=None, description="at most this many documents")
    max_chars: int = Field(
        default=DEFAULT_MAX_CHARS,
        gt=0,
        description="corpus documents longer than this (characters, after decompression) are skipped",
    )


class Recipe(BaseModel):
    """An ingest recipe (a TOML file): the sources to build, the linker's kinds, the passage encoder."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    sources: list[SourceSpec]
    linker_kinds: list[str] = ["disease", "finding"]
    encoder: str = Field(
        default="auto",
        description="passage encoder: auto (offline MiniLM if installed), hashing, or a model name",
    )
    base_dir: Path = Path(".")
    allowed_roots: tuple[Path, ...] = Field(
        default=(),
        description="folders besides base_dir the recipe may read (given by the user, never "
        "by the recipe file)",
    )

    @property
    def digest(self) -> str:
        """A SHA-256 hex digest of the recipe's settings (paths resolved at load time left out)."""
        return hashlib.sha256(
            self.model_dump_json(exclude={"base_dir", "allowed_roots"}).encode()
        ).hexdigest()

    def allowed(self) -> list[Path]:
        """The folders this recipe may read, symbolic links resolved."""
        return [p.resolve() for p in (self.base_dir, *self.allowed_roots)]

    def confined(self, relative: str) -> Path:
        """``relative`` (a path in the recipe) resolved, if it lies in an allowed folder.

        Raises:
            RecipePathRefused: it resolves elsewhere (``..``, an absolute path, a link).
        """
        from kgrag.corpus.documents import inside

        path = (self.base_dir / relative).resolve()
        allowed = self.allowed()
        if not inside(path, allowed):
            raise RecipePathRefused(
                f"recipe {self.name!r}: refused to read {relative!r} (resolves to {path}), outside "
                f"the recipe's folder {allowed[0]}; move it there or allow its folder "
                "explicitly (`kgrag build RECIPE --allow FOLDER`)"
            )
        return path


class SourceReport(BoundaryModel):
    """What one recipe source did in a build (``status``: built, skipped as unchanged, failed)."""

    name: str
    status: Literal["built", "skipped", "failed"]
    nodes: int = 0
    edges: int = 0
    seconds: float = 0.0
    warnings: dict[str, int] = Field(default_factory=dict)
    documents: dict[str, int] = Field(
        default_factory=dict, description="corpus sources: documents added, changed, unchanged, removed"
    )
    error: str | None = None


class BuildReport(BoundaryModel):
    """What :func:`kgrag.build` (and ``kgrag build``) did.

    One :class:`SourceReport` per recipe source, the store's counts afterwards, and what the
    retrieval artifacts hold.

    ``status`` is ``complete`` or ``incomplete`` (a source failed: rerun to resume);
    ``seconds`` is wall-clock time. Renders as a table in a notebook.

    Example:
        >>> import kgrag
        >>> report = kgrag.build("notebooks/guidelines/recipe.toml", store="/tmp/guidelines-kb")
        >>> [s.name for s in report.sources]
        ['ddxplus', 'guidelines']
    """

    store: str
    status: str
    recipe: str
    seconds: float
    sources: list[SourceReport]
    counts: GraphCounts
    retrieval: dict[str, int] = Field(
        default_factory=dict, description="what the retrieval artifacts hold (empty: unchanged)"
    )

    # --- notebook rendering (#11) ---
    def _table(self) -> tuple[str, tuple[str, ...], list[tuple[object, ...]]]:
        rows: list[tuple[object, ...]] = [
            (
                s.name,
                s.status,
                f"{s.nodes:,}",
                f"{s.edges:,}",
                s.seconds,
                s.error or ", ".join(f"{k}: {v}" for k, v in {**s.documents, **s.warnings}.items()),
            )
            for s in self.sources
        ]
        c = self.counts
        rows.append(
            (
                "total",
                self.status,
                f"{sum(c.nodes.values()):,}",
                f"{sum(c.edges.values()):,}",
                self.seconds,
                "",
            )
        )
        title = f"kgrag build: recipe {self.recipe!r} -> {self.status} ({self.store})"
        return title, ("source", "status", "nodes", "edges", "seconds", "note"), rows

    def _repr_html_(self) -> str:
        from kgrag._render import html_table

        return html_table(*self._table())

    def _repr_markdown_(self) -> str:
        from kgrag._render import markdown_table

        return markdown_table(*self._table())


def default_recipe_path() -> Path:
    """The shipped default recipe (``ingest/default.toml`` in a checkout, packaged data in a wheel).

    Raises:
        ConfigError: neither file exists.
    """
    for candidate in (
        Path(__file__).resolve().parents[2] / "ingest" / "default.toml",
        _PACKAGE / "_data" / "ingest" / "default.toml",
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError("the default recipe ingest/default.toml is missing; pass a recipe path")


def load_recipe(path: str | Path | None = None, *, allow: Iterable[str | Path] = ()) -> Recipe:
    """The recipe at ``path`` (default: the shipped ``ingest/default.toml``).

    Args:
        path: a recipe TOML file, or the name of a shipped recipe (``full``).
        allow: folders outside the recipe's own that it may read (a shipped recipe, one in
            the folder of ``ingest/default.toml``, may read the project folder that holds
            ``ingest/`` and ``corpora/``).

    Raises:
        ConfigError: missing or invalid recipe.
    """
    default = default_recipe_path()
    shipped_dir = default.parent.resolve()
    path = Path(path) if path else default
    if not path.suffix and not path.exists() and (shipped_dir / f"{path}.toml").is_file():
        path = shipped_dir / f"{path}.toml"  # a shipped recipe by name: `kgrag build full`
    shipped = path.resolve().parent == shipped_dir
    roots = tuple(Path(a) for a in allow) + ((shipped_dir.parent,) if shipped else ())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Recipe(**data, base_dir=path.parent, allowed_roots=roots)
    except FileNotFoundError as e:
        names = sorted(p.stem for p in shipped_dir.glob("*.toml"))
        raise ConfigError(
            f"no recipe at {path}; give a recipe TOML file or a shipped recipe: {', '.join(names)}"
        ) from e
    except (tomllib.TOMLDecodeError, ValidationError, TypeError) as e:
        raise ConfigError(f"invalid recipe {path}: {e}") from e


def make_private(folder: Path, *, only: tuple[str, ...] | None = None) -> None:
    """``folder`` 0700, and in it folders 0700 and files 0600, recursively (links untouched).

    ``only``: of ``folder``'s direct entries just those whose names start so (a store folder the
    user named may hold other files).
    """
    if not folder.is_dir():
        return
    folder.chmod(0o700)
    for entry in folder.iterdir():
        if entry.is_symlink() or (only is not None and not entry.name.startswith(only)):
            continue
        if entry.is_dir():
            make_private(entry)
        elif entry.is_file():
            entry.chmod(0o600)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
    return h.hexdigest()[:20]


def _code_digest(*folders: Path) -> str:
    """A digest of the Python sources of ``folders``.

    ``folders`` defaults to the graph builders and this runner, so a code change rebuilds
    what that code wrote.
    """
    h = hashlib.sha256()
    for folder in folders or (_PACKAGE / "graph", _PACKAGE / "pipeline"):
        for p in sorted(folder.glob("*.py")):
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


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
    ) -> None:
        from kgrag.ontology.compiled import compiled_path, load_concepts

        self.recipe = recipe
        self.store = store
        self.settings = settings or get_settings()
        self.say = progress or (lambda step: logger.info("%s", step))
        self.table = table or load_concepts(self.settings, progress=self.say)
        self.table_digest = compiled_path(self.settings).name if table is None else str(len(table))
        self._tiers: list | None = None  # type: ignore[type-arg]

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
            make_private(directory, only=("graph.sqlite", "build.lock", "retrieval"))
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
            base = _digest(self._fingerprint(spec), vocab_fp, _code_digest())
            fp = _digest(base, self._files_digest(spec))
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
                logger.exception("source %s failed", name)
                reports.append(
                    SourceReport(
                        name=name,
                        status="failed",
                        error=str(e),
                        seconds=round(time.perf_counter() - t0, 1),
                    )
                )
                if spec.kind == "vocabularies":
                    break  # everything else hangs off the concept nodes
        retrieval: dict[str, int] = {}
        if not failed:
            try:
                retrieval = self._retrieval_artifacts(rebuild)
            except Exception as e:
                failed = True
                logger.exception("retrieval artifacts failed")
                reports.append(SourceReport(name="retrieval", status="failed", error=str(e)))
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
        fp = _digest(sources, self.recipe.encoder, _code_digest(_PACKAGE / "retrieval"))
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
        )
        self.say(f"retrieval artifacts: {counts} in {time.perf_counter() - t0:.1f}s")
        return counts

    def _ddxplus_findings(
        self, name: str, conditions: Sequence[DdxCondition], directory: Path
    ) -> Iterator[Edge]:
        """DDXPlus conditions -> shared findings, through the curated evidence mapping.

        The mapping is ``ontologies/ddxplus/evidence_findings.tsv``; no edges when the file
        is absent.
        """
        from kgrag.graph import builders
        from kgrag.ontology.ddxplus import EVIDENCE_FINDINGS_FILE, load_evidence_findings

        path = directory / "ddxplus" / EVIDENCE_FINDINGS_FILE
        if not path.is_file():
            self.say(f"{name}: no {path.name}; DDXPlus evidences stay separate concepts")
            return
        mapping = load_evidence_findings(path)
        yield from builders.ddxplus_finding_edges(conditions, mapping, self.table, name)

    def _fingerprint(self, spec: SourceSpec) -> str:
        return _digest(spec, self.table_digest)

    def _files_digest(self, spec: SourceSpec) -> str:
        """Names, sizes and times of a corpus source's files ('' for other sources)."""
        if spec.kind != "corpus" or not spec.path:
            return ""
        from kgrag.corpus.documents import walk_files

        try:
            folder = self.recipe.confined(spec.path)
        except RecipePathRefused:
            return ""  # the build of this source fails with the reason
        found = walk_files(folder, self.recipe.allowed()) if folder.is_dir() else iter(())
        files = [p for p in found if isinstance(p, Path)]
        return _digest(
            [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        )

    def _tiers_of_table(self) -> list:  # type: ignore[type-arg]
        if self._tiers is None:
            from kgrag.graph.tiers import assign_tiers

            self._tiers = assign_tiers(self.table)
        return self._tiers

    def _write(
        self,
        name: str,
        nodes: Iterable[Node],
        edges: Iterable[Edge],
        *,
        n_nodes: int | None = None,
        n_edges: int | None = None,
    ) -> tuple[int, int]:
        """Upsert, counting on the progress reporter (``n_*``: the expected totals).

        Returns:
            Nodes written, and distinct edges ``(src, type, dst)`` written: an edge two of the
            source's builders both yield (their claims merge into one) counts once.
        """
        seen: set[tuple[str, str, str]] = set()

        def distinct(edges: Iterable[Edge]) -> Iterator[Edge]:
            for edge in edges:
                seen.add((edge.src, edge.type.value, edge.dst))
                yield edge

        n = self.store.upsert_nodes(counted(nodes, self.say, f"{name}: nodes", n_nodes)) if nodes else 0
        self.store.upsert_edges(distinct(counted(edges, self.say, f"{name}: edges", n_edges)))
        return n, len(seen)

    def _definition_edges(self, name: str, d: Path) -> Iterator[Edge]:
        """HAS_FINDING edges from Disease Ontology definitions (:mod:`~kgrag.pipeline.definition_facts`).

        Each claim cites the DOID whose definition states the finding, with the finding's
        span in that definition and its text (``props["quote"]``).
        """
        from kgrag.graph.schema import Claim, EdgeType
        from kgrag.linking.linker import ConceptLinker
        from kgrag.ontology.disease_ontology import load_definitions
        from kgrag.pipeline.definition_facts import definition_findings

        defined = load_definitions(d)
        self.say(f"{name}: {len(defined):,} Disease Ontology definitions")
        linker = ConceptLinker(self.table, kinds=["finding"], fuzzy=False)
        for k, c in enumerate(defined, start=1):
            disease = self.table.resolve(c.id)
            if disease is None or c.definition is None:
                continue
            text = c.definition
            for m in definition_findings(disease, text, linker.link(text)):
                assert m.best is not None
                yield Edge(
                    src=disease,
                    type=EdgeType.HAS_FINDING,
                    dst=m.best.concept_id,
                    props={"polarity": "present"},
                    claims=(
                        Claim(
                            source=name,
                            reference=c.id,
                            start=m.start,
                            end=m.end,
                            props={"quote": m.text},
                        ),
                    ),
                )
            if k % 2000 == 0:
                self.say(f"{name}: {k:,}/{len(defined):,} definitions read")

    def _build_source(self, spec: SourceSpec, name: str, *, incremental: bool = False) -> SourceReport:
        from kgrag.graph import builders

        warnings = Warnings(name)
        d = self.settings.ontologies_dir
        if spec.kind == "vocabularies":
            self.say(f"{name}: {len(self.table):,} concepts and their is_a edges")
            n, e = self._write(
                name,
                builders.concept_nodes(self.table, self._tiers_of_table(), name),
                builders.hierarchy_edges(self.table, name),
                n_nodes=len(self.table),
            )
        elif spec.kind == "hpoa":
            from kgrag.ontology.hpo import load_hpoa

            hpoa = load_hpoa(d / "hpo/phenotype.hpoa.gz")
            self.say(f"{name}: {len(hpoa.annotations):,} HPO annotations")
            n, e = self._write(
                name,
                [],
                builders.hpoa_edges(hpoa.annotations, self.table, name, warnings),
                n_edges=len(hpoa.annotations),
            )
        elif spec.kind == "ddxplus":
            from kgrag.ontology.ddxplus import load_ddxplus

            ddx = load_ddxplus(
                d / "ddxplus/release_conditions.json.gz",
                d / "ddxplus/release_evidences.json.gz",
                d / "ddxplus/icd10_corrections.json",
            )
            # one pass over both kinds of edges: one count, to the source's total
            n, e = self._write(
                name,
                [],
                chain(
                    builders.ddxplus_edges(ddx.conditions, self.table, name),
                    self._ddxplus_findings(name, ddx.conditions, d),
                ),
            )
        elif spec.kind == "do_disease_symptom":
            from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology

            do = load_disease_ontology(
                DoFiles(
                    d / "disease_ontology/HumanDO.tsv.gz",
                    d / "disease_ontology/allXREFinDO.tsv.gz",
                    disease_symptom=d / "disease_ontology/disease-symptom.tsv.gz",
                ),
                "",
            )
            n, e = self._write(
                name, [], builders.disease_symptom_edges(do.disease_symptom, self.table, name)
            )
        elif spec.kind == "do_definitions":
            n, e = self._write(name, [], self._definition_edges(name, d))
        else:
            from kgrag.pipeline.corpus import build_corpus

            update = build_corpus(self, spec, name, warnings, incremental=incremental)
            return SourceReport(
                name=name,
                status="built",
                nodes=update.nodes,
                edges=update.edges,
                warnings=dict(warnings.counts),
                documents=update.model_dump(include={"added", "changed", "unchanged", "removed"}),
            )
        return SourceReport(name=name, status="built", nodes=n, edges=e, warnings=dict(warnings.counts))
