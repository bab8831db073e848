"""Findings followed by their body site: "pain in the right knee", "swelling of both ankles".

Clinical notes put the site after the finding, with a preposition, a determiner and
laterality words between; vocabularies name the same finding site first ("knee pain",
"ankle swelling"). :func:`site_phrases` finds such phrases and gives the site-first keys to
look up, longest site first, each with and without its laterality words. Coordinated
findings share the site ("pain and swelling of the knee": knee pain, knee swelling).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# findings that take a body site; each also tried under the listed other names
FINDINGS: dict[str, tuple[str, ...]] = {
    "pain": ("pain",),
    "ache": ("pain",),
    "aching": ("pain",),
    "swelling": ("swelling", "edema"),
    "tenderness": ("tenderness",),
    "redness": ("redness", "erythema"),
    "numbness": ("numbness",),
    "weakness": ("weakness",),
    "stiffness": ("stiffness",),
    "rash": ("rash",),
    "itching": ("itching", "pruritus"),
    "bruising": ("bruising",),
    "deformity": ("deformity",),
    "mass": ("mass",),
    "lump": ("lump", "mass"),
    "ulcer": ("ulcer",),
    "ulceration": ("ulcer", "ulceration"),
    "discharge": ("discharge",),
    "bleeding": ("bleeding", "hemorrhage"),
    "edema": ("edema", "swelling"),
    "erythema": ("erythema",),
    "tingling": ("tingling", "paresthesia"),
    "cramping": ("cramps", "cramping"),
    "paralysis": ("paralysis",),
}
PREPOSITIONS = r"in|of|over|on|at|around|behind|near|along|across|involving|affecting"
DETERMINERS = frozenset({"the", "her", "his", "their", "both", "a", "an", "its", "my", "your"})
LATERALITY = frozenset(
    {"left", "right", "bilateral", "both", "lower", "upper", "inner", "outer", "anterior",
     "posterior", "medial", "lateral", "proximal", "distal", "entire", "whole"}
)  # fmt: skip
# a site's noun -> the adjective vocabularies use before a finding ("abdominal pain")
ADJECTIVES = {
    "abdomen": "abdominal", "belly": "abdominal", "stomach": "abdominal", "face": "facial",
    "pelvis": "pelvic", "chest": "chest", "breast": "breast", "eye": "ocular", "ear": "ear",
    "flank": "flank", "groin": "inguinal", "rectum": "rectal", "anus": "anal",
    "scrotum": "scrotal", "testicle": "testicular", "testis": "testicular", "joint": "joint",
    "muscle": "muscle", "epigastrium": "epigastric", "shoulder": "shoulder", "throat": "throat",
}  # fmt: skip
MAX_SITE_WORDS = 4
_FINDING = "|".join(sorted(FINDINGS, key=len, reverse=True))
_PHRASE = re.compile(
    rf"\b(?P<first>{_FINDING})(?:\s*(?:,|and|or|/)\s*(?P<second>{_FINDING}))?"
    rf"\s+(?:{PREPOSITIONS})\s+(?P<site>[A-Za-z][A-Za-z -]*)",
    re.IGNORECASE,
)
_STOP = re.compile(r"\b(?:and|or|with|that|which|who|since|for|after|when|but|on|in|at)\b|[,.;:()]")


@dataclass(frozen=True)
class SitePhrase:
    """One finding with its post-posed site: its span and the keys to look up, best first."""

    start: int
    end: int
    keys: tuple[str, ...]


def site_phrases(text: str) -> list[SitePhrase]:
    """Every finding + preposition + site phrase in ``text``.

    Args:
        text: any text.

    Returns:
        Phrases in text order; a coordinated first finding ("pain" in "pain and swelling of
        the knee") is its own phrase spanning only its word.
    """
    out: list[SitePhrase] = []
    pos = 0
    while (m := _PHRASE.search(text, pos)) is not None:
        site_text = m.group("site")
        stop = _STOP.search(site_text)
        if stop:
            site_text = site_text[: stop.start()]
        pos = m.start("site") + len(site_text)  # the next phrase may start after the site
        words = site_text.split()
        while words and words[0].lower() in DETERMINERS:
            words = words[1:]
        words = words[:MAX_SITE_WORDS]
        if not words:
            pos = max(pos, m.start("site") + 1)
            continue
        site_end = m.start("site") + site_text.find(words[-1]) + len(words[-1])
        for group in ("first", "second"):
            finding = m.group(group)
            if finding is None:
                continue
            keys = _keys(words, FINDINGS[finding.lower()])
            coordinated = group == "first" and m.group("second") is not None
            end = m.end("first") if coordinated else site_end
            out.append(SitePhrase(m.start(group), end, keys))
    return out


def _keys(words: list[str], findings: tuple[str, ...]) -> tuple[str, ...]:
    lowered = [w.lower() for w in words]
    sites: list[str] = []
    for n in range(len(lowered), 0, -1):
        site = lowered[:n]
        bare = [w for w in site if w not in LATERALITY]
        for form in (site, bare):
            if not form:
                continue
            last = form[-1]
            singular = last[:-1] if last.endswith("s") and not last.endswith("ss") else last
            for noun in dict.fromkeys([last, singular, ADJECTIVES.get(singular, singular)]):
                sites.append(" ".join([*form[:-1], noun]))
    return tuple(dict.fromkeys(f"{s} {f}" for s in sites for f in findings))
