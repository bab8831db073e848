"""The package surface: cheap import, curated public names, error tree, settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _interpreter import PYTHON

from kgrag.config import load_settings
from kgrag.errors import (
    ConceptNotFound,
    ConfigError,
    KgragError,
    MissingExtraError,
    OntologyFormatError,
)

HEAVY = ("torch", "faiss", "neo4j", "spacy", "sentence_transformers", "rapidfuzz", "kgrag.ontology")


def test_import_is_light() -> None:
    code = (
        "import sys, kgrag; heavy = [m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r} or m in {HEAVY!r}]; print(','.join(heavy))"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import kgrag pulled in: {out.stdout}"


def test_errors_double_as_builtins() -> None:
    err = ConceptNotFound("MESH:D0")
    assert isinstance(err, KeyError) and isinstance(err, KgragError)
    assert "MESH:D0" in str(err) and "kgrag concepts search" in str(err)
    fmt = OntologyFormatError("x.obo", 7, "bad")
    assert isinstance(fmt, ValueError) and str(fmt) == "x.obo:7: bad"
    extra = MissingExtraError("faiss-cpu", "faiss", "Vector search")
    assert isinstance(extra, ImportError) and 'pip install "kgrag[faiss]"' in str(extra)


def _kgrag_modules() -> list[object]:
    """Every module of the kgrag package that imports here (the CLI and sidecar included)."""
    import importlib
    import pkgutil

    import kgrag

    out = []
    for info in pkgutil.walk_packages(kgrag.__path__, "kgrag."):
        if info.name.endswith("__main__"):
            continue
        try:
            out.append(importlib.import_module(info.name))
        except ImportError:  # an optional extra this machine lacks: its errors are checked where it runs
            continue
    return out


def test_every_public_error_class_is_in_the_error_tree() -> None:
    """A public exception class anywhere in kgrag derives from KgragError and lives in
    kgrag/errors.py, named in its tree; private ones (``_Name``) say why in their docstring."""
    import inspect

    import kgrag.errors

    modules = _kgrag_modules()
    assert len(modules) > 60
    for module in modules:
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, BaseException)):
                continue
            if not cls.__module__.startswith("kgrag") or cls.__module__ != module.__name__:
                continue  # imported from elsewhere
            if name.startswith("_"):
                assert cls.__doc__ and "private" in cls.__doc__.lower(), f"{module.__name__}.{name}"
                continue
            where = f"{module.__name__}.{name}"
            assert module is kgrag.errors, f"{where} is an error outside kgrag/errors.py"
            assert issubclass(cls, KgragError), name
            assert f" {name}" in (kgrag.errors.__doc__ or ""), f"{name} is missing from the tree"


def test_settings_from_env_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KGRAG_CACHE_DIR", str(tmp_path / "from-env"))
    assert load_settings().cache_dir == tmp_path / "from-env"
    monkeypatch.delenv("KGRAG_CACHE_DIR")
    toml = tmp_path / "k.toml"
    toml.write_text(f'cache_dir = "{tmp_path / "from-toml"}"\nverify_checksums = false\n')
    monkeypatch.setenv("KGRAG_CONFIG", str(toml))
    s = load_settings()
    assert s.cache_dir == tmp_path / "from-toml" and s.verify_checksums is False
    toml.write_text("no_such_setting = 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_settings()
    monkeypatch.setenv("KGRAG_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()
