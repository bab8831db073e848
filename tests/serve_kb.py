"""The small knowledge base the ``kgrag serve`` tests run against, built from the
hand-written fixture in ``tests/fixtures/serve`` by a real recipe into a real store.

The concept table is compiled from the fixture's own vocabularies and written where
``load_concepts`` looks for it (``cache_dir``, keyed by the fixture ontologies folder's
fingerprint), so a server started in another process with the same ``KGRAG_CACHE_DIR``
and ``KGRAG_ONTOLOGIES_DIR`` loads the same small table instead of the default one.
"""

from __future__ import annotations

from pathlib import Path

from kgrag.config import Settings, load_settings
from kgrag.graph.base import GraphStore
from kgrag.ontology.compiled import compiled_path, to_bytes
from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology
from kgrag.ontology.hpo import load_hpo
from kgrag.ontology.table import ConceptTable
from kgrag.ontology.unify import UnifiedData, unify
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "serve"

CASE = "Infant with prolonged seizures and low muscle tone after a fever. No cough."


def recipe() -> Recipe:
    return Recipe(
        name="serve-test",
        encoder="hashing",
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="hpoa"),
            SourceSpec(kind="corpus", name="pages", path=str(FIXTURE / "docs"), format="markdown"),
        ],
    )


def settings_for(root: Path) -> Settings:
    """Settings whose cache, knowledge base and vocabularies are the fixture's."""
    return load_settings(
        cache_dir=root / "cache", kb_dir=root / "kb", ontologies_dir=FIXTURE / "ontologies"
    )


def env_for(root: Path) -> dict[str, str]:
    """The ``KGRAG_*`` variables that make another process see the same knowledge base."""
    return {
        "KGRAG_CACHE_DIR": str(root / "cache"),
        "KGRAG_KB_DIR": str(root / "kb"),
        "KGRAG_ONTOLOGIES_DIR": str(FIXTURE / "ontologies"),
    }


def small_data() -> UnifiedData:
    """The fixture vocabularies unified (what the compiled table holds)."""
    d = FIXTURE
    data = unify(
        [
            load_hpo(d / "hp_serve.obo"),
            load_disease_ontology(
                DoFiles(
                    d / "HumanDO.tsv", d / "allXREFinDO.tsv", disease_symptom=d / "disease-symptom.tsv"
                ),
                "test",
            ),
        ]
    )
    return data


def small_table() -> ConceptTable:
    """The fixture's concept table."""
    return ConceptTable(small_data())


def build(root: Path, store: GraphStore | None = None) -> Settings:
    """Compile the table into ``root/cache`` and build the recipe into ``store``
    (default: the embedded store at ``root/kb``)."""
    from kgrag.graph.sqlite_store import SqliteGraphStore

    settings = settings_for(root)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    data = small_data()
    compiled_path(settings).write_bytes(to_bytes(data))
    table = ConceptTable(data)
    own = store is None
    target = store or SqliteGraphStore(root / "kb")
    try:
        report = Builder(recipe(), target, table=table, settings=settings).run()
    finally:
        if own:
            target.close()
    if report.status != "complete":
        raise RuntimeError(f"the serve test knowledge base did not build: {report}")
    return settings
