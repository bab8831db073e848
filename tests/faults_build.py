"""Build a small knowledge base in a child process, for tests/test_faults.py (two builds at
once, a build killed mid-way, readers during a rebuild). Not a test module.

Usage: python tests/faults_build.py KB_DIR CORPUS_DIR CACHE_DIR [--rebuild] [--wait SECONDS]
[--slow SECONDS]  (``--slow``: pause that long at each progress step, so that a test can
act while the build is surely still running, however fast the machine)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ONTOLOGIES = Path(__file__).resolve().parent.parent / "ontologies"


def small_table():  # type: ignore[no-untyped-def]
    """The same real table as conftest's ``small_table`` (vocabulary excerpts)."""
    from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology
    from kgrag.ontology.hpo import load_hpo
    from kgrag.ontology.mesh import MeshFiles, load_mesh
    from kgrag.ontology.sssom import load_sssom
    from kgrag.ontology.table import ConceptTable
    from kgrag.ontology.unify import unify

    d, m = FIXTURES / "do", FIXTURES / "mesh"
    return ConceptTable(
        unify(
            [
                load_hpo(FIXTURES / "hpo/hp_mini.obo"),
                load_disease_ontology(
                    DoFiles(
                        d / "HumanDO.tsv",
                        d / "allXREFinDO.tsv",
                        disease_symptom=d / "disease-symptom.tsv",
                    ),
                    "test",
                ),
                load_sssom(sorted((FIXTURES / "mondo").glob("*.sssom.tsv")), version="test"),
                load_mesh(
                    MeshFiles(
                        m / "mesh_desc_C_F03.tsv", m / "mesh_scr_disease.tsv", m / "mesh2022_terms.tsv"
                    )
                ),
            ]
        )
    )


def recipe(corpus: Path):  # type: ignore[no-untyped-def]
    from kgrag.pipeline.runner import Recipe, SourceSpec

    return Recipe(
        name="faults",
        encoder="hashing",
        base_dir=corpus.parent,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="hpoa"),
            SourceSpec(kind="do_disease_symptom"),
            SourceSpec(kind="corpus", name="notes", path=corpus.name, format="auto"),
        ],
    )


def build(  # type: ignore[no-untyped-def]
    kb: Path, corpus: Path, cache: Path, *, rebuild: bool = False, wait: float = 0.0, slow: float = 0.0
):
    import time

    from kgrag.config import load_settings
    from kgrag.graph.sqlite_store import SqliteGraphStore
    from kgrag.pipeline.runner import Builder

    settings = load_settings(cache_dir=cache, ontologies_dir=ONTOLOGIES, kb_dir=kb)
    store = SqliteGraphStore(kb)
    try:
        return Builder(
            recipe(corpus),
            store,
            table=small_table(),
            settings=settings,
            progress=(lambda step: time.sleep(slow)) if slow else None,
        ).run(rebuild=rebuild, wait=wait)
    finally:
        store.close()


if __name__ == "__main__":
    from kgrag.errors import KgragError

    p = argparse.ArgumentParser()
    p.add_argument("kb", type=Path)
    p.add_argument("corpus", type=Path)
    p.add_argument("cache", type=Path)
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--wait", type=float, default=0.0)
    p.add_argument("--slow", type=float, default=0.0)
    a = p.parse_args()
    try:
        report = build(a.kb, a.corpus, a.cache, rebuild=a.rebuild, wait=a.wait, slow=a.slow)
    except KgragError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    print(json.dumps({"status": report.status, "counts": report.counts.model_dump()}))
    sys.exit(0 if report.status == "complete" else 1)
