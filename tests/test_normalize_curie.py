from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgrag._text import normalize
from kgrag.ontology.curie import canonical


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Alzheimer's  Disease", "alzheimer disease"),
        ("Guillain-Barré syndrome", "guillain barre syndrome"),
        ("Diabetes Mellitus, Type 2", "diabetes mellitus type 2"),
        ("  ", ""),
        ("ＣＯＶＩＤ－１９", "covid 19"),
    ],
)
def test_normalize(text: str, key: str) -> None:
    assert normalize(text) == key


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("MIM:601283", "OMIM:601283"),
        ("MIM:PS267700", "OMIMPS:267700"),
        ("ORDO:540", "ORPHA:540"),
        ("Orphanet:540", "ORPHA:540"),
        ("mesh:d000309", "MESH:D000309"),
        ("MSH:D012640", "MESH:D012640"),
        ("UMLS_CUI:C0011860", "UMLS:C0011860"),
        ("SNOMEDCT_US_2025_09_01:44054006", "SNOMEDCT:44054006"),
        ("icd11.foundation:733056203", "ICD11:733056203"),
        ("NCI:C2991", "NCIT:C2991"),
        ("FOO:1", None),
        ("no-colon", None),
        ("HP:", None),
    ],
)
def test_canonical(raw: str, canon: str | None) -> None:
    assert canonical(raw) == canon
