"""Lab values and lab phrasing read as abnormality findings.

Two kinds of text become findings, each keeping its span (and its value when it has one):

- ``<analyte> <value> [<unit>]``: "Na 122 mmol/L", "hemoglobin 7.9 g/dL", "WBC 18,000/mm3".
  The value, converted to the analyte's canonical unit, is compared with the adult
  reference range of the versioned table ``data/labs.tsv``; outside it, the finding below
  or above the range (hyponatremia, anemia, leukocytosis) is the mention's concept.
- ``<increased|decreased|elevated|low|...> <analyte> [in <blood|serum|plasma|urine|CSF>]``:
  "increased Phenylalanine in blood" -> hyperphenylalaninemia. Table analytes resolve
  through the table; others are offered to the linker as HPO-style phrasings
  ("increased circulating X concentration", "increased urinary X") by
  :func:`phrasings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

SPECIMENS = {
    "blood": "blood",
    "serum": "blood",
    "plasma": "blood",
    "serum/plasma": "blood",
    "whole blood": "blood",
    "urine": "urine",
    "csf": "csf",
    "cerebrospinal fluid": "csf",
}
LOOKBACK = 80  # characters before a number or "in <specimen>" searched for the analyte
_NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\d.,]\d)")
_HIGH = ("increased", "elevated", "high", "raised", "elevation of", "increase in", "increased level of")
_LOW = ("decreased", "low", "reduced", "diminished", "decrease in", "reduction in", "decreased level of")


@dataclass(frozen=True, slots=True)
class Analyte:
    """One row of the lab table."""

    name: str
    names: tuple[str, ...]
    specimen: str
    units: dict[str, float]  # unit as written (lower case) -> factor to the canonical unit
    low: float | None
    high: float | None
    low_hpo: str | None
    high_hpo: str | None
    depends: str | None

    @property
    def unit(self) -> str | None:
        """The canonical unit (None for phrasing-only rows)."""
        return next(iter(self.units), None)


@dataclass(frozen=True, slots=True)
class LabFinding:
    """A lab statement in text: ``text[start:end]``, the HPO code it means, and the value."""

    start: int
    end: int
    analyte: str
    hpo: str
    direction: str  # "high" | "low"
    value: float | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class LabPhrase:
    """A directional phrase about an analyte the table lacks ("increased X in urine")."""

    start: int
    end: int
    analyte: str
    direction: str
    specimen: str | None


def _num(text: str) -> float | None:
    return None if text.strip() == "-" else float(text)


@lru_cache(maxsize=1)
def lab_table() -> tuple[Analyte, ...]:
    """The rows of ``data/labs.tsv``.

    Raises:
        ValueError: a row with the wrong number of columns or an unreadable number.
    """
    text = files("kgrag.linking").joinpath("data/labs.tsv").read_text(encoding="utf-8")
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("analyte\t"):
            continue
        c = line.split("\t")
        if len(c) != 10 or c[2] not in ("blood", "urine", "csf"):
            raise ValueError(f"labs.tsv line {n}: expected 10 columns: {line!r}")
        units: dict[str, float] = {}
        for part in c[3].split(";"):
            if "=" in part:
                unit, factor = part.rsplit("=", 1)
                units[unit.strip().lower()] = float(factor)
        rows.append(
            Analyte(
                name=c[0],
                names=tuple(x for x in c[1].split("|") if x),
                specimen=c[2],
                units=units,
                low=_num(c[4]),
                high=_num(c[5]),
                low_hpo=None if c[6] == "-" else c[6],
                high_hpo=None if c[7] == "-" else c[7],
                depends=None if c[8] == "-" else c[8],
            )
        )
    return tuple(rows)


def _alternation(words: list[str]) -> str:
    return "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(set(words), key=len, reverse=True)
    )


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], dict[str, list[Analyte]]]:
    """Anchored matchers.

    Each runs on the few characters before a number or before "in <specimen>", so reading labs costs
    little on text without them.
    """
    by_name: dict[str, list[Analyte]] = {}
    units: list[str] = []
    for a in lab_table():
        for name in (a.name, *a.names):
            by_name.setdefault(name.lower(), []).append(a)
        units.extend(a.units)
    unit_re = _alternation([u for u in units] + [u.replace("u", "µ") for u in units])
    unit = re.compile(r"\s*(?P<unit>" + unit_re + r")(?![\w])", re.IGNORECASE)
    direction = _alternation(list(_HIGH + _LOW))
    phrase = re.compile(
        r"(?<![\w])(?P<dir>" + direction + r")\s+(?:(?:serum|plasma|blood|urinary|urine|csf)\s+)?"
        r"(?:levels?\s+of\s+)?(?P<name>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}?)"
        r"(?:\s+(?:levels?|concentrations?))?\s+in\s+(?:the\s+)?\Z",
        re.IGNORECASE,
    )
    specimen = re.compile(
        r"(?<![\w])in\s+(?:the\s+)?(?P<spec>" + _alternation(list(SPECIMENS)) + r")(?![\w])",
        re.IGNORECASE,
    )
    return unit, phrase, specimen, by_name


def _pick(analytes: list[Analyte], specimen: str | None) -> Analyte | None:
    if specimen is not None:
        return next((a for a in analytes if a.specimen == specimen), None)
    return next((a for a in analytes if a.units), analytes[0] if analytes else None)


def _direction(word: str) -> str:
    return "high" if re.sub(r"\s+", " ", word.lower()) in _HIGH else "low"


_WORD_BEFORE = re.compile(r"[^\W_][\w+-]*|[=:,]")
_FILLER = frozenset(
    {"of", "was", "is", "were", "=", ":", ",", "level", "levels", "concentration", "count"}
)


@lru_cache(maxsize=1)
def _exact_names() -> frozenset[str]:
    """Short names ("Na", "K", "Hb") that match only as written."""
    return frozenset(n for a in lab_table() for n in (a.name, *a.names) if len(n.rstrip("+-")) <= 3)


def _name_before(
    text: str, at: int, by_name: dict[str, list[Analyte]], exact: frozenset[str]
) -> tuple[int, str] | None:
    """The analyte name that ends just before offset ``at``: ``(start, lower-case name)`` or None.

    Fillers such as "level of", "was" and ":" may come between.
    """
    window_start = max(0, at - LOOKBACK)
    words = list(_WORD_BEFORE.finditer(text, window_start, at))
    while words and words[-1].group().lower() in _FILLER:
        words.pop()
    for size in (4, 3, 2, 1):
        if len(words) < size:
            continue
        part = words[-size:]
        surface = text[part[0].start() : part[-1].end()]
        key = " ".join(w.group().lower() for w in part)
        if key in by_name and re.fullmatch(r"[^\W_][\w+-]*(?:\s+[^\W_][\w+-]*)*", surface):
            if len(key.rstrip("+-")) <= 3 and surface not in exact:
                continue  # "na", "k": abbreviations count only as written
            return part[0].start(), key
    return None


def read_labs(text: str) -> tuple[list[LabFinding], list[LabPhrase]]:
    """Lab findings and directional lab phrases of ``text``, in text order.

    Findings are values outside their range and directional phrases of table analytes; directional
    phrases about other analytes come too.

    Args:
        text: any text.

    Returns:
        ``(findings, phrases)``: ``findings`` carry their HPO code; ``phrases`` name an
        analyte the table lacks, for the linker to resolve.
    """
    unit_re, phrase_re, specimen_re, by_name = _patterns()
    findings: list[LabFinding] = []
    phrases: list[LabPhrase] = []
    for s in specimen_re.finditer(text):
        window_start = max(0, s.start() - LOOKBACK)
        m = phrase_re.search(text[window_start : s.start()] + "in ")
        if m is None:
            continue
        start, end = window_start + m.start(), s.end()
        spec = SPECIMENS[re.sub(r"\s+", " ", s.group("spec").lower())]
        name = re.sub(r"\s+", " ", m.group("name").lower())
        direction = _direction(m.group("dir"))
        analyte = _pick(by_name.get(name, []), spec)
        hpo = None
        if analyte is not None:
            hpo = analyte.high_hpo if direction == "high" else analyte.low_hpo
        if hpo is not None and analyte is not None:
            findings.append(LabFinding(start, end, analyte.name, hpo, direction))
        else:
            phrases.append(LabPhrase(start, end, name, direction, spec))
    taken = [(f.start, f.end) for f in findings] + [(p.start, p.end) for p in phrases]
    exact = _exact_names()
    for n in _NUMBER.finditer(text):
        found = _name_before(text, n.start(), by_name, exact)
        if found is None:
            continue
        start, name = found
        u = unit_re.match(text, n.end())
        end = u.end() if u else n.end()
        if any(s < end and start < e for s, e in taken):
            continue
        analyte = _pick(by_name.get(name, []), "blood")
        if analyte is None or not analyte.units:
            continue
        value = float(n.group().replace(",", ""))
        unit = u.group("unit") if u else None
        if unit is not None:
            factor = analyte.units.get(unit.lower().replace("µ", "u"), analyte.units.get(unit.lower()))
            if factor is None:
                continue
            canonical = value * factor
        else:
            canonical = value
            if analyte.high is not None and value > 50 * analyte.high:  # "WBC 18,000": per µL
                canonical = value / 1000
        if analyte.low is not None and canonical < analyte.low and analyte.low_hpo:
            hit = (analyte.low_hpo, "low")
        elif analyte.high is not None and canonical > analyte.high and analyte.high_hpo:
            hit = (analyte.high_hpo, "high")
        else:
            continue  # within range (or no finding for that side): not an abnormality
        findings.append(LabFinding(start, end, analyte.name, hit[0], hit[1], value=value, unit=unit))
    findings.sort(key=lambda f: f.start)
    return findings, phrases


def phrasings(phrase: LabPhrase) -> list[str]:
    """HPO-style names a directional lab phrase may have, most specific first.

    For example "increased circulating X concentration", "elevated urinary X".
    """
    a = phrase.analyte
    words = (
        ("increased", "elevated", "high")
        if phrase.direction == "high"
        else ("decreased", "reduced", "low")
    )
    if phrase.specimen == "urine":
        forms = [
            "{d} urinary {a} concentration",
            "{d} urinary {a}",
            "{d} urine {a} levels",
            "{d} urine {a}",
        ]
    elif phrase.specimen == "csf":
        forms = ["{d} csf {a} concentration", "{d} cerebrospinal fluid {a} concentration", "{d} csf {a}"]
    else:
        forms = [
            "{d} circulating {a} concentration",
            "{d} circulating {a} level",
            "{d} serum {a}",
            "{d} plasma {a}",
            "{d} blood {a}",
            "{d} {a} level",
            "{d} {a}",
        ]
    return [f.format(d=d, a=a) for f in forms for d in words]
