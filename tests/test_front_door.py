"""The front door (package API, notebooks, wheel): public names that stay what they are,
shared defaults that are safe under threads and as a fresh process's first call, bad
arguments refused with ``InvalidRequest``, and reports that render in a notebook.

The knowledge base here is real and small: ``notebooks/guidelines/recipe.toml`` (the
DDXPlus knowledge base and three guideline files), built once per session into a private
cache next to the full concept table.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import textwrap
import types
from pathlib import Path

import pytest
from _interpreter import PYTHON, child_env

import kgrag
from kgrag.config import Settings, kb_dir
from kgrag.errors import InvalidRequest, KgragError
from kgrag.ontology.table import ConceptTable

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "notebooks" / "guidelines" / "recipe.toml"
CODES = ["DDXE:E_91", "DDXE:E_77"]  # fever; cough with coloured sputum (DDXPlus evidences)

# name -> (kind, module that defines it): the public surface, pinned
PUBLIC: dict[str, tuple[str, str]] = {
    "Assertion": ("class", "kgrag.types"),
    "BoundaryModel": ("class", "kgrag.types"),
    "BuildReport": ("class", "kgrag.pipeline.report"),
    "Candidate": ("class", "kgrag.types"),
    "Concept": ("class", "kgrag.types"),
    "ConceptLinker": ("class", "kgrag.linking.linker"),
    "ConceptMatch": ("class", "kgrag.types"),
    "ConceptNotFound": ("class", "kgrag.errors"),
    "ConceptTable": ("class", "kgrag.ontology.table"),
    "Diagnoser": ("class", "kgrag.retrieval.diagnose"),
    "DiagnosisReport": ("class", "kgrag.retrieval.types"),
    "EvidenceBundle": ("class", "kgrag.retrieval.types"),
    "FindingInput": ("class", "kgrag.retrieval.types"),
    "GraphStore": ("class", "kgrag.graph.base"),
    "GroundedDiagnosis": ("class", "kgrag.generate.types"),
    "GroundedDifferential": ("class", "kgrag.retrieval.grounded"),
    "InvalidRequest": ("class", "kgrag.errors"),
    "KgragError": ("class", "kgrag.errors"),
    "Mention": ("class", "kgrag.types"),
    "Mentions": ("class", "kgrag.types"),
    "SemanticKind": ("class", "kgrag.types"),
    "Settings": ("class", "kgrag.config"),
    "__version__": ("str", "kgrag._version"),
    "answer": ("function", "kgrag.api"),
    "assert_spans": ("function", "kgrag.api"),
    "build": ("function", "kgrag.api"),
    "diagnose": ("function", "kgrag.api"),
    "get_settings": ("function", "kgrag.config"),
    "ground": ("function", "kgrag.api"),
    "link": ("function", "kgrag.api"),
    "load_concepts": ("function", "kgrag.ontology.compiled"),
    "normalize": ("function", "kgrag.api"),
    "open_store": ("function", "kgrag.graph.stores"),
    "retrieve": ("function", "kgrag.api"),
}

_KINDS = """
import importlib, inspect, types
def kind(v):
    if isinstance(v, types.ModuleType):
        return "module"
    if inspect.isclass(v):
        return "class"
    if inspect.isfunction(v) or inspect.isbuiltin(v) or hasattr(v, "cache_clear"):
        return "function"
    return type(v).__name__
"""


def _run(code: str, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    """Run ``code`` in a fresh interpreter (this checkout first on the path); its stdout.

    A hang (a deadlock) dumps every thread's stack 20 s before ``timeout`` and exits."""
    full = {**child_env(), **(env or {}), "PYTHONPATH": str(REPO)}
    watchdog = f"import faulthandler; faulthandler.dump_traceback_later({timeout - 20}, exit=True)\n"
    out = subprocess.run(
        [PYTHON, "-c", watchdog + code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_public_names_are_pinned_with_their_kind() -> None:
    assert sorted(kgrag.__all__) == sorted(PUBLIC)
    assert set(dir(kgrag)) == set(PUBLIC)
    for name, (kind, module) in PUBLIC.items():
        value = getattr(kgrag, name)
        if kind == "class":
            assert inspect.isclass(value), name
            assert value.__module__ == module, (name, value.__module__)
        elif kind == "function":
            assert callable(value) and not isinstance(value, types.ModuleType), name
            assert value.__module__ == module, (name, value.__module__)
        else:
            assert isinstance(value, str) and value.count(".") >= 1
    params = inspect.signature(kgrag.build).parameters
    positional = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["recipe", "store", "rebuild", "progress"]
    assert all(p.kind is p.KEYWORD_ONLY for n, p in params.items() if n not in positional)
    with pytest.raises(AttributeError):
        _ = kgrag.not_a_name  # type: ignore[attr-defined]


def test_importing_every_submodule_shadows_no_public_name() -> None:
    """Importing a submodule binds it on its parent package: none may share a public name."""
    code = _KINDS + textwrap.dedent(
        """
        import json, pkgutil, kgrag
        skipped = {}
        for info in pkgutil.walk_packages(kgrag.__path__, "kgrag."):
            if info.name.endswith("__main__"):
                continue  # running it is the CLI
            try:
                importlib.import_module(info.name)
            except ImportError as e:  # an optional extra that is not installed
                skipped[info.name] = str(e)
        out = {}
        for name in kgrag.__all__:
            v = getattr(kgrag, name)
            out[name] = [kind(v), getattr(v, "__module__", None)]
        print(json.dumps({"names": out, "skipped": skipped}))
        """
    )
    result = json.loads(_run(code))
    assert len(result["skipped"]) <= 2, result["skipped"]  # the whole package imports here
    for name, (kind, module) in PUBLIC.items():
        got_kind, got_module = result["names"][name]
        assert got_kind == kind, f"kgrag.{name} is a {got_kind} after importing every submodule"
        if kind != "str":
            assert got_module == module, (name, got_module)


def test_every_public_callable_is_documented() -> None:
    """Functions: Args (if they take any), Returns, Raises and an example; classes: a
    docstring with an example."""
    for name, (kind, _) in PUBLIC.items():
        value = getattr(kgrag, name)
        doc = inspect.getdoc(value) or ""
        if kind == "function":
            params = [p for p in inspect.signature(value).parameters if p not in ("self",)]
            for section in (["Args:"] if params else []) + ["Returns:", "Examples:", ">>>"]:
                assert section in doc, f"kgrag.{name}'s docstring lacks {section!r}"
        elif kind == "class":
            assert len(doc) > 40, f"kgrag.{name} has no real docstring"
            assert ">>>" in doc, f"kgrag.{name}'s docstring has no example"


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "kwargs", "says"),
    [
        ("diagnose", {"findings": "HP:0001250"}, "findings: must be a list"),
        ("diagnose", {"findings": [{"id": "HP:0001250", "present": True}]}, "present"),
        ("diagnose", {"findings": [{"code": "HP:0001250"}]}, "id"),
        ("diagnose", {"findings": [42]}, "findings[0]"),
        (
            "diagnose",
            {"findings": ["HP:0001250"], "top_k": 0},
            "top_k: Input should be greater than or equal to 1",
        ),
        ("diagnose", {"findings": ["HP:0001250"], "top_k": "3"}, "top_k"),
        ("diagnose", {"findings": ["HP:0001250"], "method": "bayes"}, "method: must be one of"),
        ("diagnose", {"text": 12}, "text: Input should be a valid string"),
        ("diagnose", {}, "give text"),
        ("retrieve", {"findings": {"id": "HP:0001250"}}, "findings: must be a list"),
        ("retrieve", {"text": "fever", "passages_k": -1}, "passages_k"),
        ("link", {"text": b"fever"}, "text must be a string"),
        ("normalize", {"mention": "fever", "k": 0}, "k must be"),
        ("normalize", {"mention": None}, "mention must be a string"),
        ("build", {"recipe": 3}, "recipe must be a path"),
        ("build", {"store": 3.5}, "store must be"),
    ],
)
def test_bad_arguments_are_invalid_requests(call: str, kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        getattr(kgrag, call)(**kwargs)
    assert isinstance(info.value, KgragError) and isinstance(info.value, ValueError)
    assert says in str(info.value)


# --- a real small knowledge base ---------------------------------------------------------


@pytest.fixture(scope="session")
def small_kb(table: ConceptTable, default_settings: Settings) -> Settings:
    """The guidelines recipe built into ``kb-small`` of the session's cache (which holds the
    compiled full concept table; the default ``kb`` there is the default recipe's).
    Returns settings whose default knowledge base is that one."""
    from kgrag.graph.stores import open_store
    from kgrag.pipeline.runner import Builder, load_recipe

    settings = default_settings.model_copy(update={"kb_dir": default_settings.cache_dir / "kb-small"})
    store = open_store(kb_dir(settings), settings=settings)
    try:
        report = Builder(load_recipe(RECIPE), store, table=table, settings=settings).run()
    finally:
        store.close()
    assert report.status == "complete", report
    return settings


def _env(settings: Settings) -> dict[str, str]:
    return {
        "KGRAG_CACHE_DIR": str(settings.cache_dir),
        "KGRAG_KB_DIR": str(kb_dir(settings)),
        "KGRAG_ONTOLOGIES_DIR": str(settings.ontologies_dir),
    }


def test_diagnose_as_the_first_call_of_a_process(small_kb: Settings) -> None:
    code = f"import kgrag; print(kgrag.diagnose(findings={CODES!r}, top_k=3).candidates[0].concept_id)"
    out = _run(code, _env(small_kb), timeout=480)  # it used to deadlock here
    assert out.strip().startswith(("DDX:", "UMLS:", "MONDO:", "DOID:"))


def test_eight_threads_first_calls_share_one_linker(small_kb: Settings) -> None:
    code = textwrap.dedent(
        f"""
        import json, threading
        import kgrag
        from kgrag import api
        from kgrag.linking import linker as L
        built = []
        init = L.ConceptLinker.__init__
        def counting(self, *a, **k):
            built.append(1)
            init(self, *a, **k)
        L.ConceptLinker.__init__ = counting
        barrier = threading.Barrier(8)
        results, errors = {{}}, []
        def work(i):
            barrier.wait()
            try:
                if i % 2:
                    results[i] = kgrag.diagnose(findings={CODES!r}, top_k=2).candidates[0].concept_id
                else:
                    results[i] = [m.text for m in kgrag.link("No fever but a cough.")]
                results[f"l{{i}}"] = id(api.default_linker())
            except Exception as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
        print(json.dumps({{"alive": sum(t.is_alive() for t in threads), "results": results,
                          "errors": errors, "built": len(built)}}))
        """
    )
    result = json.loads(_run(code, _env(small_kb), timeout=480))
    assert result["alive"] == 0, "threads still waiting: a lock is held across defaults"
    assert result["errors"] == []
    assert result["built"] == 1
    r = result["results"]
    assert len({r[f"l{i}"] for i in range(8)}) == 1
    assert len({r[str(i)] for i in range(1, 8, 2)}) == 1  # same answer in every thread
    assert all(r[str(i)] == ["fever", "cough"] for i in range(0, 8, 2))


def test_reports_render_in_a_notebook(small_kb: Settings, table: ConceptTable) -> None:
    from kgrag.graph.stores import open_store
    from kgrag.linking.linker import ConceptLinker
    from kgrag.pipeline.runner import Builder, load_recipe
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.types import Mentions

    store = open_store(kb_dir(small_kb), read_only=True, settings=small_kb)
    dx = Diagnoser(store, settings=small_kb, table=table)
    report = dx.diagnose(findings=[*CODES, {"id": "DDXE:E_45", "excluded": True}], top_k=3)
    html, md = report._repr_html_(), report._repr_markdown_()
    top = report.candidates[0]
    assert "<table>" in html and "<caption>" in html and top.concept_id in html
    assert md.count("\n| ") == len(report.candidates) + 1  # header + one row per candidate
    assert "probability" in md and "Evidence" in md and "log LR" in md
    with pytest.raises(Exception, match="frozen"):
        report.method = "ppr"  # type: ignore[misc]
    bundle = dx.retrieve(findings=CODES, top_k=3)
    assert "Passages" in bundle._repr_markdown_() and "<ul>" in bundle._repr_html_()
    assert any("verified" in line for line in bundle._repr_markdown_().splitlines())
    mentions = Mentions(ConceptLinker(table).link("No fever <b>but</b> chest pain."))
    assert mentions == list(mentions) and "absent" in mentions._repr_markdown_()
    writer = open_store(kb_dir(small_kb), settings=small_kb)
    try:
        again = Builder(load_recipe(RECIPE), writer, table=table, settings=small_kb).run()
    finally:
        writer.close()
    assert "skipped" in again._repr_markdown_() and "<table>" in again._repr_html_()
