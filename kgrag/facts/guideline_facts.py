"""Disease -> finding facts from any guideline text (Markdown, HTML, PDF, plain text).

Two rules, both over the linker's mentions (with their assertions and kinds) in document
offsets, so every fact cites an exact span of the stored document:

- **section rule**: in a section whose heading names signs, symptoms, clinical features,
  manifestations or presentation, every finding mention states a finding of the section's
  disease (the disease named in the heading, else the document's focus / title disease);
- **sentence patterns**: a sentence that states a finding of a disease, forward
  ("X typically presents with Y", "X is characterized by Y", "patients with X often have
  Y", "symptoms of X include Y") or backward ("Y is common in X", "Y is a feature of X").

A negated statement ("X does not cause Y", "Y is not a feature of X", "Y is absent in X",
or a finding the linker asserts absent) gives a ``not_shown`` fact. Only disease-tier X
(the caller's ``is_disease``) and finding-kind Y are kept. Each fact cites the sentence
that states it (``start``/``end``; ``doc_text[start:end] == text``) and the finding's own
span. Headings are found in the text: Markdown ``#`` lines, and short lines whose words are
a known clinical section name (so HTML and PDF headings count; list items do not).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from kgrag.types import Assertion, BoundaryModel, Mention, SemanticKind

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker

MIN_SCORE = 0.3  # a mention whose best candidate is less likely right than this is not used

Polarity = Literal["present", "not_shown"]


class GuidelineFact(BoundaryModel):
    """One disease -> finding statement found in a document.

    ``start``/``end`` index the document text (the stating sentence, ``text`` its
    characters); ``finding_start``/``finding_end`` the finding mention inside it.
    """

    disease: str
    finding: str
    polarity: Polarity
    start: int
    end: int
    text: str
    finding_start: int
    finding_end: int
    finding_text: str
    rule: str  # "section" or "pattern:<name>"
    section: str = ""  # the heading of the section it is in ("" before any heading)


_SYMPTOM_HEADING = re.compile(
    r"\b(?:signs?|symptoms?|clinical\s+(?:features?|presentation|picture|manifestations?|findings)"
    r"|presentations?|presenting\s+(?:features?|complaints?|symptoms?)|manifestations?)\b",
    re.I,
)
_OTHER_HEADING = re.compile(
    r"\b(?:overview|introduction|background|definitions?|epidemiology|aetiology|etiology|causes?"
    r"|risk\s+factors?|pathophysiology|pathogenesis|diagnos[ie]s|differential|investigations?"
    r"|tests?|work-?up|examination|assessment|management|treatments?|therapy|prognosis"
    r"|complications?|prevention|screening|follow-?up|referral|references?|summary|key\s+points"
    r"|recommendations?|outcomes?|monitoring|when\s+to\s+refer|scope|notes?)\b",
    re.I,
)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*$")

_ADV = (
    r"(?:(?:typically|usually|often|commonly|classically|frequently|generally|mostly"
    r"|most\s+often|may|can|will|also|characteristically|initially|always|invariably)\s+)*"
)
_NEG_VERB = (
    r"(?P<neg{}>(?:does|do|did|will|can|may)\s+not\s+|(?:doesn't|don't|cannot|can't)\s+"
    r"|never\s+|rarely\s+)?"
)
_NEG_BE = r"(?P<neg{}>not\s+|never\s+|rarely\s+)?"

# after "X": "X (CAP) typically presents with Y"
_FORWARD = re.compile(
    r"^\s*(?:\([^)]{1,40}\)\s*)?,?\s*"
    r"(?:"
    rf"(?:is|are)\s+{_ADV}{_NEG_BE.format(1)}(?:characteri[sz]ed|marked|defined|accompanied)\s+by"
    rf"|(?:is|are)\s+{_ADV}{_NEG_BE.format(2)}associated\s+with"
    rf"|{_ADV}{_NEG_VERB.format(3)}{_ADV}(?:present(?:s|ing)?\s+(?:with|as)|manifests?\s+(?:with|as)"
    r"|causes?|produces?|leads?\s+to|results?\s+in|gives?\s+rise\s+to)"
    r")\b",
    re.I,
)
# before "X" and after it: "patients with X often have Y"
_PATIENTS_BEFORE = re.compile(
    r"\b(?:patients|people|persons|individuals|children|adults|infants|women|men|those)\s+with\s*$",
    re.I,
)
_PATIENTS_AFTER = re.compile(
    r"^\s*(?:\([^)]{1,40}\)\s*)?,?\s*"
    rf"{_ADV}{_NEG_VERB.format(1)}{_ADV}(?:have|has|present\s+with|report|develop|complain\s+of|experience"
    r"|show|exhibit|suffer\s+from)\b",
    re.I,
)
# "symptoms of X include Y"
_FEATURES_BEFORE = re.compile(
    r"\b(?:signs?|symptoms?|features?|manifestations?|findings?)(?:\s+and\s+(?:signs?|symptoms?))?"
    r"\s+(?:of|in)\s*$",
    re.I,
)
_FEATURES_AFTER = re.compile(
    rf"^\s*(?:\([^)]{{1,40}}\)\s*)?,?\s*{_ADV}(?:include|includes|are|comprise|consist\s+of)\b", re.I
)
# before "X": "Y is common in X", "Y is not a feature of X"
_BACKWARD = re.compile(
    r"\b(?:is|are)\s+"
    r"(?:(?P<neg1>not\s+|never\s+)?(?:(?:very|especially|particularly|most|more|also|often)\s+)*"
    r"(?:common|frequent|typical|characteristic|usual|prominent|seen|found|present|observed|reported|expected)"
    r"|(?P<neg2>not\s+)?(?:(?:an?|the)\s+)?(?:(?:common|typical|classic|classical|cardinal|characteristic|key"
    r"|major|frequent|usual|early|late|prominent|main|hallmark|presenting)\s+)*"
    r"(?:feature|sign|symptom|finding|manifestation|hallmark|complaint)s?"
    r"|(?P<neg3>absent|not\s+seen|not\s+found|not\s+present|not\s+expected))"
    r"\s+(?:in|of|with)(?:\s+(?:patients|people|those)\s+with)?\s*$"
    r"|\b(?P<neg4>(?:does|do)\s+not\s+)?(?:occurs?|develops?|appears?)\s+(?:(?:early|late|often|commonly)\s+)?in"
    r"(?:\s+(?:patients|people|those)\s+with)?\s*$",
    re.I,
)
_CLAUSE_BREAK = re.compile(r";|\bbut\b|\bwhereas\b|\balthough\b|\bwhile\b|\bunlike\b|\bexcept\b", re.I)


def _headings(text: str) -> list[tuple[int, int, str]]:
    """``(line start, line end, heading text)`` of every heading line, in order."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = text[start:end]
        md = _MD_HEADING.match(body) or _BOLD_LINE.match(body)
        if md:
            out.append((start, end, md.group(1).strip()))
            continue
        stripped = body.strip().rstrip(":").strip()
        if (
            stripped
            and len(stripped.split()) <= 8
            and stripped[-1] not in ".?!,;"
            and stripped[0].isupper()
            and (_SYMPTOM_HEADING.search(stripped) or _OTHER_HEADING.search(stripped))
        ):
            out.append((start, end, stripped))
    return out


_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?])\s+(?=\S)|\n\s*\n|\n(?=\s*(?:[-*\u2022+]|\d+[.)])\s)|\n(?=\s*[^a-z\s])"
)


def _sentences(text: str, headings: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Sentence spans (trimmed).

    Split at sentence ends, blank lines, list items, a new line that does not continue in lower
    case, and around heading lines.
    """
    cuts = {0, len(text)}
    for m in _SENTENCE_BREAK.finditer(text):
        cuts.update((m.start(), m.end()))
    for s, e, _ in headings:
        cuts.update((s, e))
    edges = sorted(cuts)
    out: list[tuple[int, int]] = []
    for s, e in itertools.pairwise(edges):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _level(text: str, heading: tuple[int, int, str]) -> int | None:
    """A Markdown heading's level (number of ``#``), None for other headings."""
    m = re.match(r"\s{0,3}(#{1,6})\s", text[heading[0] : heading[1]])
    return len(m.group(1)) if m else None


def _negated(m: re.Match[str]) -> bool:
    """Did a connector match its negated form (any ``neg*`` group)?"""
    return any(v for k, v in m.groupdict().items() if k.startswith("neg"))


def _is_finding(m: Mention) -> bool:
    b = m.best
    return b is not None and b.score >= MIN_SCORE and b.kind is SemanticKind.FINDING


def _polarity(m: Mention, negated: bool) -> Polarity | None:
    """The fact's polarity, or None for a mention that states no finding of the disease.

    Hypothetical, historical and someone else's mentions state none.
    """
    if negated or m.assertion is Assertion.ABSENT:
        return "not_shown"
    if m.assertion in (Assertion.PRESENT, Assertion.POSSIBLE):
        return "present"
    return None


def _clause(text: str, lo: int, hi: int, *, from_end: bool) -> int:
    """The clause boundary inside ``text[lo:hi]``.

    The first break (``from_end`` False) or the end of the last break (True); ``hi`` / ``lo`` when
    there is none.
    """
    breaks = list(_CLAUSE_BREAK.finditer(text, lo, hi))
    if not breaks:
        return lo if from_end else hi
    return breaks[-1].end() if from_end else breaks[0].start()


def extract_facts(
    text: str,
    mentions: Sequence[Mention],
    *,
    focus: str | None = None,
    is_disease: Callable[[str], bool] | None = None,
) -> list[GuidelineFact]:
    """The disease -> finding facts a document states.

    Args:
        text: the document's stored text.
        mentions: the linker's mentions of ``text`` with offsets into it (any order).
        focus: the document's disease (its focus or title disease), for symptom sections
            whose heading names none.
        is_disease: whether a concept id is a disease-tier concept (default: the
            candidate's kind is disease).

    Returns:
        The facts in document order, one per (disease, finding, sentence, polarity).
    """

    def disease_ok(m: Mention) -> bool:
        b = m.best
        if b is None or b.score < MIN_SCORE or b.kind is not SemanticKind.DISEASE:
            return False
        return is_disease(b.concept_id) if is_disease is not None else True

    ordered = sorted(mentions, key=lambda m: (m.start, m.end))
    headings = _headings(text)
    facts: dict[tuple[str, str, int, str], GuidelineFact] = {}

    def add(d: str, f: Mention, pol: Polarity, s: int, e: int, rule: str, section: str) -> None:
        b = f.best
        assert b is not None
        if b.concept_id == d:
            return
        key = (d, b.concept_id, s, pol)
        if key in facts:
            return
        facts[key] = GuidelineFact(
            disease=d,
            finding=b.concept_id,
            polarity=pol,
            start=s,
            end=e,
            text=text[s:e],
            finding_start=f.start,
            finding_end=f.end,
            finding_text=f.text,
            rule=rule,
            section=section,
        )

    starts = [m.start for m in ordered]

    def within(lo: int, hi: int) -> list[Mention]:
        """The mentions inside ``text[lo:hi]``."""
        a, b = bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi)
        return [m for m in ordered[a:b] if m.end <= hi]

    heading_starts = [h[0] for h in headings]
    levels = [_level(text, h) for h in headings]
    memo: dict[int, tuple[str, str | None, bool]] = {}

    def heading_disease(k: int) -> str | None:
        named = [
            (m.best.score, m.end - m.start, m.best.concept_id)
            for m in within(headings[k][0], headings[k][1])
            if disease_ok(m) and m.best
        ]
        return max(named)[2] if named else None  # the surest, then the longest mention

    def section(k: int) -> tuple[str, str | None, bool]:
        """Heading ``k``'s text, its disease, and whether it is a symptom section.

        The disease is the one the heading names, else the one the nearest enclosing Markdown heading
        names.
        """
        title = headings[k][2]
        symptomatic = bool(_SYMPTOM_HEADING.search(title))
        level = levels[k]
        for h in range(k, -1, -1):
            if h != k and (level is None or levels[h] is None or levels[h] >= level):  # type: ignore[operator]
                continue
            level = levels[h]
            named = heading_disease(h)
            if named or level is None or level <= 1:
                return title, named, symptomatic
        return title, None, symptomatic

    def section_at(pos: int) -> tuple[str, str | None, bool]:
        """The section ``pos`` is in (``("", None, False)`` before any heading)."""
        k = bisect.bisect_right(heading_starts, pos) - 1
        if k < 0:
            return "", None, False
        if k not in memo:
            memo[k] = section(k)
        return memo[k]

    def in_heading(s: int, e: int) -> bool:
        k = bisect.bisect_right(heading_starts, s) - 1
        return k >= 0 and headings[k][0] <= s and e <= headings[k][1]

    for s, e in _sentences(text, headings):
        inside = within(s, e)
        if not inside or in_heading(s, e):
            continue
        title, named, symptomatic = section_at(s)
        stated: set[int] = set()  # finding mentions a pattern already used
        for d in (m for m in inside if disease_ok(m)):
            did = d.best.concept_id if d.best else ""
            before, after = text[s : d.start], text[d.end : e]
            found = None
            if m := _FORWARD.match(after):
                found = ("pattern:forward", d.end + m.end(), _negated(m))
            elif _PATIENTS_BEFORE.search(before) and (m := _PATIENTS_AFTER.match(after)):
                found = ("pattern:patients_with", d.end + m.end(), _negated(m))
            elif _FEATURES_BEFORE.search(before) and (m := _FEATURES_AFTER.match(after)):
                found = ("pattern:features_of", d.end + m.end(), False)
            if found:
                rule, lo, neg = found
                hi = _clause(text, lo, e, from_end=False)
                for f in inside:
                    if lo <= f.start and f.end <= hi and _is_finding(f):
                        pol = _polarity(f, neg)
                        if pol:
                            add(did, f, pol, s, e, rule, title)
                            stated.add(f.start)
                continue
            if m := _BACKWARD.search(before):
                neg = _negated(m)
                lo = _clause(text, s, s + m.start(), from_end=True)
                hi = s + m.start()
                for f in inside:
                    if lo <= f.start and f.end <= hi and _is_finding(f):
                        pol = _polarity(f, neg)
                        if pol:
                            add(did, f, pol, s, e, "pattern:backward", title)
                            stated.add(f.start)
        disease = named or focus
        if symptomatic and disease:
            others = {m.best.concept_id for m in inside if disease_ok(m) and m.best} - {disease}
            if others:
                continue  # a sentence about another disease states nothing of this one
            for f in inside:
                if f.start not in stated and _is_finding(f):
                    pol = _polarity(f, False)
                    if pol:
                        add(disease, f, pol, s, e, "section", title)
    return sorted(facts.values(), key=lambda x: (x.start, x.finding_start))


def title_disease(
    title: str, linker: ConceptLinker, is_disease: Callable[[str], bool] | None = None
) -> str | None:
    """The disease a document's title names (its first disease-tier mention), else None.

    Args:
        title: the document's title (first line, HTML title or file name).
        linker: the concept linker.
        is_disease: whether a concept id is disease-tier (default: disease kind).
    """
    found = [
        (b.score, m.end - m.start, b.concept_id)
        for m in linker.link(title)
        if (b := m.best) is not None
        and b.score >= MIN_SCORE
        and b.kind is SemanticKind.DISEASE
        and (is_disease is None or is_disease(b.concept_id))
    ]
    return max(found)[2] if found else None  # the surest, then the longest mention
