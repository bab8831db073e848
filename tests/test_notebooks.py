"""The notebooks in notebooks/ execute from top to bottom (nbclient, a real IPython kernel),
against this checkout, and are stored without outputs.

01 runs on the default knowledge base (``default_kb`` in conftest.py); 02 builds the
guidelines knowledge base in the session cache (next to the compiled concept table) and 04
reuses it; 03 needs Neo4j (skipped with the reason otherwise) and clears the test server
afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgrag.config import Settings
from kgrag.ontology.table import ConceptTable

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_are_there_and_stripped() -> None:
    assert ALL == [
        "01_quickstart.ipynb",
        "02_build_your_own_graph.ipynb",
        "03_neo4j.ipynb",
        "04_evaluate.ipynb",
        "05_grounding.ipynb",
    ]
    for name in ALL:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(book)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name}: strip the outputs"


def execute(name: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel that imports this checkout and uses ``settings``'
    cache; the executed notebook (its outputs) is returned, the file is not touched."""
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("KGRAG_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("KGRAG_ONTOLOGIES_DIR", str(settings.ontologies_dir))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws PNGs
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return book


def outputs(book: nbformat.NotebookNode, mime: str) -> list[str]:
    found = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                found.append(out.get("text", "")) if mime == "text/plain" else None
            data = out.get("data", {})
            if mime in data:
                found.append(data[mime])
    return found


def test_05_grounding(default_kb: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    book = execute("05_grounding.ipynb", default_kb, monkeypatch)
    html = "".join(outputs(book, "text/html"))
    assert "Grounded differential" in html  # the report renders
    text = "".join(outputs(book, "text/plain"))
    assert "pulmonary embolism" in text and "Chest pain" in text and "unresolved" in text


def test_01_quickstart(default_kb: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    book = execute("01_quickstart.ipynb", default_kb, monkeypatch)
    html = "".join(outputs(book, "text/html"))
    assert "mentions</caption>" in html and "Differential diagnosis" in html  # the reports render
    text = "".join(outputs(book, "text/plain"))
    assert "absent" in text and "log LR" in text and "Does the patient" in text


def test_02_build_your_own_graph(
    table: ConceptTable, default_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = execute("02_build_your_own_graph.ipynb", default_settings, monkeypatch)
    html = "".join(outputs(book, "text/html"))
    assert "kgrag build: recipe &#x27;guidelines&#x27;" in html or "recipe 'guidelines'" in html
    assert "<mark>" in html  # a citation shown as a highlighted span
    text = "".join(outputs(book, "text/plain"))
    assert "skipped" in text and "asthma.pdf" in text and "bronchitis.html" in text


@pytest.mark.neo4j
def test_03_neo4j(
    table: ConceptTable, default_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    uri = os.environ["KGRAG_TEST_NEO4J_URI"]
    monkeypatch.setenv("KGRAG_NEO4J_URI", uri)
    for var in ("USER", "PASSWORD"):
        if f"KGRAG_TEST_NEO4J_{var}" in os.environ:
            monkeypatch.setenv(f"KGRAG_NEO4J_{var}", os.environ[f"KGRAG_TEST_NEO4J_{var}"])
    auth = (
        os.environ.get("KGRAG_TEST_NEO4J_USER", "neo4j"),
        os.environ.get("KGRAG_TEST_NEO4J_PASSWORD", ""),
    )
    store = Neo4jGraphStore(uri, auth=auth)
    store.clear()
    try:
        book = execute("03_neo4j.ipynb", default_settings, monkeypatch)
        text = "".join(outputs(book, "text/plain"))
        assert "skipped" not in text and "edges" in text
        assert store.counts().edges.get("HAS_FINDING", 0) > 500
    finally:
        store.clear()
        store.close()


def test_03_neo4j_without_a_server_says_skipped(
    default_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KGRAG_NEO4J_URI", raising=False)
    monkeypatch.delenv("KGRAG_TEST_NEO4J_URI", raising=False)
    book = execute("03_neo4j.ipynb", default_settings, monkeypatch)
    assert "skipped: no Neo4j configured" in "".join(outputs(book, "text/plain"))


def test_04_evaluate(
    table: ConceptTable, default_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = execute("04_evaluate.ipynb", default_settings, monkeypatch)
    text = "".join(outputs(book, "text/plain"))
    assert "top-1:" in text and "top-10:" in text
    assert len(outputs(book, "image/png")) == 3  # rank histogram, calibration, evidence graph
