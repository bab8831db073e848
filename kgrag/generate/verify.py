"""The deterministic verifier.

What an LLM (or the extractive report) cites is checked against the stored evidence before anything
is returned.

For each citation:

1. the evidence id must be one of the bundle's (else ``unknown_evidence``);
2. the cited text is re-read: a passage's ``document_text[start:end]`` from the stored
   document (through a :class:`DocumentSource`), which must still read as the bundle
   showed it (else ``source_unavailable``); a graph fact's rendered statement;
3. the quote must be at least ``MIN_QUOTE_CHARS`` long and occur in that text after the
   ``nfkc-casefold-ws-v1`` normalization, or be re-anchored within the edit bound
   (:mod:`kgrag.generate.quotes`); the citation then carries the source's verbatim text.

A claim (one diagnosis) is *supported* when at least one verified citation is about the
claimed disease — a fact on that disease's path, or a passage about that concept or
naming it — and, for each of the patient's findings its rationale names, some verified
citation about the disease also covers that finding (a fact whose path holds it, or a
passage naming it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kgrag.generate.evidence import EvidenceItem, EvidencePack
from kgrag.generate.prompt import OTHER
from kgrag.generate.quotes import MIN_QUOTE_CHARS, find_quote, normalize, normalize_quote
from kgrag.generate.types import (
    MARKER,
    GroundedClaim,
    GroundingCounts,
    Likelihood,
    RejectedCitation,
    RejectReason,
    VerifiedCitation,
)
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Label

Unsupported = Literal["remove", "flag"]
_LOOSE_MARKER = re.compile(r"\s*\[(?:[A-Za-z]{0,2}\d+)(?:\s*,\s*[A-Za-z]{0,2}\d+)*\]")


class DocumentSource(Protocol):
    """Reads a stored document's full text (``None`` when it no longer exists)."""

    def document_text(self, document_id: str) -> str | None:
        """The full text of document ``document_id``, or None when it no longer exists."""


class MappingDocuments:
    """Documents held in a dict (tests, bundles saved with their texts)."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    def document_text(self, document_id: str) -> str | None:
        """Implements :meth:`DocumentSource.document_text` from the dict."""
        return self.texts.get(document_id)


@dataclass
class RawCitation:
    """One citation as the model wrote it: an evidence label (``F1``, ``P2``) and the quoted text."""

    evidence: str
    quote: str


@dataclass
class RawClaim:
    """One diagnosis as the model (or the extractive report) gave it."""

    id: str
    name: str
    likelihood: Likelihood
    rationale: str
    citations: list[RawCitation] = field(default_factory=list)


@dataclass
class Verification:
    """What the verifier made of an answer.

    Attributes:
        claims: The claims kept, with their verified citations.
        removed: The claims dropped as unsupported.
        citations: Every citation that checked out.
        rejected: Every citation that did not, with the reason.
        counts: The totals of the above.
    """

    claims: list[GroundedClaim]
    removed: list[GroundedClaim]
    citations: list[VerifiedCitation]
    rejected: list[RejectedCitation]
    counts: GroundingCounts


def strip_markers(text: str) -> str:
    """``text`` without citation-like markers, stripped until none is left.

    ``text`` without citation-like markers (``[3]``, ``[F1, P2]``), removed until none
    is left (``[1[2]]`` would leave ``[1]`` after one pass).
    """
    while True:
        stripped = _LOOSE_MARKER.sub("", text)
        if stripped == text:
            return stripped.strip()
        text = stripped


def _mentions(text: str, name: str) -> bool:
    """Does ``text`` name ``name`` on word boundaries (both normalized)?"""
    n = normalize_quote(name)
    if len(n) < 4:
        return False
    return re.search(rf"(?<!\w){re.escape(n)}(?!\w)", normalize(text)[0]) is not None


class Verifier:
    """Checks citations against one request's evidence; caches re-read documents."""

    def __init__(self, pack: EvidencePack, documents: DocumentSource) -> None:
        self.pack = pack
        self.documents = documents
        self._texts: dict[str, str | None] = {}

    def source_text(self, item: EvidenceItem) -> str | None:
        """The text a citation of ``item`` must quote, re-read from its source."""
        if item.kind == "fact":
            return item.text
        if item.document is None:
            return None
        if item.document not in self._texts:
            self._texts[item.document] = self.documents.document_text(item.document)
        doc = self._texts[item.document]
        if doc is None or not 0 <= item.start <= item.end <= len(doc):
            return None
        span = doc[item.start : item.end]
        return span if span == item.text else None

    def check(self, evidence: str, quote: str) -> VerifiedCitation | RejectReason:
        """A verified citation (numbered 0 until placed in a report) or why not."""
        item = self.pack.item(evidence)
        if item is None:
            return "unknown_evidence"
        if len(normalize_quote(quote)) < MIN_QUOTE_CHARS:
            return "quote_too_short"
        text = self.source_text(item)
        if text is None:
            return "source_unavailable"
        match = find_quote(quote, text)
        if match is None:
            return "quote_not_found"
        offset = item.start if item.kind == "passage" else 0
        return VerifiedCitation(
            n=0,
            evidence=item.id,
            kind=item.kind,
            quote=text[match.start : match.end],
            document=item.document,
            start=offset + match.start,
            end=offset + match.end,
            references=list(item.references),
            reanchored=match.distance > 0,
            edit_distance=match.distance,
        )

    # -- claims --------------------------------------------------------------------------
    def _target(self, claim: RawClaim) -> tuple[str | None, str]:
        """The claimed candidate id (None for 'other') and the disease's name."""
        cand = self.pack.candidate(claim.id) if claim.id != OTHER else None
        if cand is None:  # 'other' (or an id outside the candidates): match by name
            wanted = normalize_quote(claim.name)
            cand = next((c for c in self.pack.candidates if normalize_quote(c.name) == wanted), None)
        if cand is not None:
            return cand.id, cand.name
        return None, claim.name.strip()

    def about(self, item: EvidenceItem, concept_id: str | None, name: str) -> bool:
        """Is ``item`` about the disease (its concept, or naming it)?"""
        if concept_id is not None and concept_id in item.about:
            return True
        if item.kind == "fact":  # a fact is about its own disease alone
            return False
        return _mentions(item.text, name)

    def covers(self, item: EvidenceItem, finding_id: str, finding_name: str) -> bool:
        """Whether ``item`` bears on the finding: a fact lists it, a passage names it."""
        if item.kind == "fact":
            return finding_id in item.findings
        return _mentions(item.text, finding_name)

    def support(
        self, claim: RawClaim, cited: list[VerifiedCitation]
    ) -> tuple[bool, str, str | None, str]:
        """(supported, why, concept id, name) for a claim and its verified citations."""
        concept_id, name = self._target(claim)
        if not name:
            return False, "no disease named", concept_id, name
        items = [i for c in cited if (i := self.pack.item(c.evidence)) is not None]
        on_topic = [i for i in items if self.about(i, concept_id, name)]
        if not cited:
            return False, "no verified citation", concept_id, name
        if not on_topic:
            return False, f"no verified citation is about {name}", concept_id, name
        named = [f for f in self.pack.present if _mentions(claim.rationale, f.name)]
        missing = [f.name for f in named if not any(self.covers(i, f.id, f.name) for i in on_topic)]
        if missing:
            return False, f"nothing cited about {name} covers {', '.join(missing)}", concept_id, name
        why = f"{len(on_topic)} verified citation(s) about {name}"
        if named:
            why += f", covering {len(named)} named finding(s)"
        return True, why, concept_id, name


def verify_claims(
    claims: Iterable[RawClaim],
    pack: EvidencePack,
    documents: DocumentSource,
    *,
    unsupported: Unsupported = "remove",
) -> Verification:
    """Verify every citation and every claim; number the citations that are kept.

    Args:
        claims: the differential as returned (model order).
        pack: the request's numbered evidence.
        documents: where passages are re-read from.
        unsupported: ``remove`` drops unsupported claims (they are listed in ``removed``),
            ``flag`` keeps them marked ``supported=False``.

    Returns:
        The kept claims (ranked 1..n, each citing numbers of ``citations``), the removed
        ones, the numbered verified citations (each used by a kept claim), the rejected
        citations with reasons, and the counts.
    """
    verifier = Verifier(pack, documents)
    counts = GroundingCounts()
    rejected: list[RejectedCitation] = []
    kept: list[tuple[GroundedClaim, list[VerifiedCitation]]] = []
    removed: list[GroundedClaim] = []
    seen_claims: set[str] = set()
    for raw in claims:
        counts.claims_returned += 1
        counts.citations_returned += len(raw.citations)
        cited: list[VerifiedCitation] = []
        for rc in raw.citations:
            result = verifier.check(rc.evidence, rc.quote)
            if isinstance(result, str):
                reason: RejectReason = result
            elif any(
                (c.evidence, c.start, c.end) == (result.evidence, result.start, result.end)
                for c in cited
            ):
                reason = "duplicate"
            else:
                cited.append(result)
                continue
            rejected.append(
                RejectedCitation(
                    claim=raw.name or raw.id, evidence=rc.evidence, quote=rc.quote[:500], reason=reason
                )
            )
        counts.citations_verified += len(cited)
        counts.citations_reanchored += sum(c.reanchored for c in cited)
        supported, why, concept_id, name = verifier.support(raw, cited)
        counts.citations_on_topic += sum(
            1
            for c in cited
            if (i := pack.item(c.evidence)) is not None and verifier.about(i, concept_id, name)
        )
        key = concept_id or normalize_quote(name)
        if key in seen_claims:  # the same disease twice: keep the first
            supported, why = False, "the same diagnosis was already given"
        seen_claims.add(key)
        cand = pack.candidate(concept_id) if concept_id else None
        claim = GroundedClaim(
            rank=0,
            concept_id=concept_id,
            name=strip_markers(name or raw.name),
            likelihood=raw.likelihood,
            rationale=strip_markers(raw.rationale),
            supported=supported,
            support=why,
            retrieval_rank=cand.rank if cand else None,
        )
        counts.claims_supported += supported
        counts.claims_unsupported += not supported
        if supported or unsupported == "flag":
            kept.append((claim, cited))
        else:
            removed.append(claim)
    counts.claims_removed = len(removed)
    counts.citations_dropped = counts.citations_returned - counts.citations_verified
    numbered: dict[tuple[str, int, int], VerifiedCitation] = {}
    out_claims = []
    for rank, (claim, cited) in enumerate(kept, start=1):
        ns = []
        for c in cited:
            key3 = (c.evidence, c.start, c.end)
            if key3 not in numbered:
                numbered[key3] = c.model_copy(update={"n": len(numbered) + 1})
            ns.append(numbered[key3].n)
        out_claims.append(claim.model_copy(update={"rank": rank, "citations": ns}))
    return Verification(out_claims, removed, list(numbered.values()), rejected, counts)


def check_report(
    body: str, citations: list[VerifiedCitation], pack: EvidencePack, documents: DocumentSource
) -> list[str]:
    """Re-check a finished report.

    Every ``[n]`` in ``body`` (the rendered differential) resolves to a citation, every citation is
    used, and every citation's quote reads verbatim at its place in the source.

    Returns:
        One message per violation (empty when the report holds).
    """
    problems: list[str] = []
    numbers = {c.n for c in citations}
    used = {int(m) for m in MARKER.findall(body)}
    problems += [f"marker [{n}] cites nothing" for n in sorted(used - numbers)]
    problems += [f"citation [{n}] is never cited" for n in sorted(numbers - used)]
    verifier = Verifier(pack, documents)
    for c in citations:
        item = pack.item(c.evidence)
        source = verifier.source_text(item) if item is not None else None
        offset = item.start if item is not None and item.kind == "passage" else 0
        if source is None or source[c.start - offset : c.end - offset] != c.quote:
            problems.append(f"citation [{c.n}] does not read as its source")
    return problems


class StoreDocuments:
    """Documents re-read from a graph store (the ``text`` of a ``Document`` node)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def document_text(self, document_id: str) -> str | None:
        """Implements :meth:`DocumentSource.document_text`: the ``text`` of a ``Document`` node."""
        node = self.store.get_node(document_id)
        if node is None or node.label is not Label.DOCUMENT:
            return None
        text = node.props.get("text")
        return text if isinstance(text, str) else None
