"""Canonical CURIE prefixes for the identifiers that sources spell in many ways.

``canonical("MIM:601283")`` -> ``"OMIM:601283"``; ``canonical("ORDO:540")`` ->
``"ORPHA:540"``; ``canonical("mesh:D000309")`` -> ``"MESH:D000309"``. An unknown prefix
gives ``None`` so the caller can count and skip it.
"""

from __future__ import annotations

import re

# source spelling (upper-cased) -> canonical prefix
_PREFIXES: dict[str, str] = {
    "HP": "HP",
    "HPO": "HP",
    "DOID": "DOID",
    "MONDO": "MONDO",
    "MESH": "MESH",
    "MSH": "MESH",
    "OMIM": "OMIM",
    "MIM": "OMIM",
    "OMIMPS": "OMIMPS",
    "ORPHA": "ORPHA",
    "ORPHANET": "ORPHA",
    "ORDO": "ORPHA",
    "UMLS": "UMLS",
    "UMLS_CUI": "UMLS",
    "NCIT": "NCIT",
    "NCI": "NCIT",
    "ICD10CM": "ICD10CM",
    "ICD10WHO": "ICD10WHO",
    "ICD-10": "ICD10WHO",
    "ICD10": "ICD10WHO",
    "ICD11": "ICD11",
    "ICD11.FOUNDATION": "ICD11",
    "ICD9CM": "ICD9CM",
    "ICD9": "ICD9CM",
    "ICD-9": "ICD9CM",
    "ICDO": "ICDO",
    "ICD-O": "ICDO",
    "GARD": "GARD",
    "DECIPHER": "DECIPHER",
    "EFO": "EFO",
    "KEGG": "KEGG",
    "MEDDRA": "MEDDRA",
    "SNOMEDCT": "SNOMEDCT",
    "SNOMEDCT_US": "SNOMEDCT",
    "SNOMED_CT": "SNOMEDCT",
    "SCTID": "SNOMEDCT",
    "DDX": "DDX",
    "DDXE": "DDXE",
    "SYMP": "SYMP",
}
_SNOMED_DATED = re.compile(r"^SNOMEDCT_US_\d{4}_\d{2}_\d{2}$")

KNOWN_PREFIXES = frozenset(_PREFIXES.values())


def canonical(curie: str) -> str | None:
    """The canonical form of a CURIE, or None when its prefix is unknown or it is malformed."""
    prefix, sep, local = curie.strip().partition(":")
    local = local.strip()
    if not sep or not local or not prefix:
        return None
    key = prefix.upper()
    if _SNOMED_DATED.match(key):
        key = "SNOMEDCT"
    canon = _PREFIXES.get(key)
    if canon is None:
        return None
    if canon == "OMIM" and local.upper().startswith("PS"):
        return f"OMIMPS:{local[2:]}"
    if canon in ("MESH", "UMLS", "ICD10CM", "ICD10WHO"):
        local = local.upper()
    return f"{canon}:{local}"


def prefix_of(curie: str) -> str:
    """The prefix of a CURIE: ``prefix_of("HP:0001945") == "HP"``."""
    return curie.partition(":")[0]
