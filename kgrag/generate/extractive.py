"""The no-LLM report.

The retrieval differential restated with citations taken verbatim from the bundle, verified like a
model's answer. The default when no LLM is configured and the fallback when the LLM fails.
"""

from __future__ import annotations

import re

from kgrag.generate.evidence import EvidencePack
from kgrag.generate.verify import RawCitation, RawClaim

_SENTENCE = re.compile(r"[^.!?\n]{20,}?[.!?](?=\s|$)")


def _first_sentence(text: str, limit: int = 240) -> str:
    m = _SENTENCE.search(text)
    sentence = (m.group(0) if m else text).strip()
    return sentence[:limit]


def extractive_claims(pack: EvidencePack, *, max_claims: int = 3, per_claim: int = 3) -> list[RawClaim]:
    """The top candidates with their strongest facts and the passages about them.

    Args:
        pack: the request's numbered evidence.
        max_claims: candidates restated (retrieval order).
        per_claim: citations per candidate (facts first, then at most one passage).

    Returns:
        Claims whose quotes are copied from the evidence (the verifier still checks them).
    """
    claims = []
    for i, cand in enumerate(pack.candidates[:max_claims]):
        facts = [it for it in pack.items if it.kind == "fact" and cand.id in it.about]
        passages = [it for it in pack.items if it.kind == "passage" and cand.id in it.about]
        cites = [RawCitation(f.id, f.text) for f in facts[: per_claim - 1 if passages else per_claim]]
        cites += [RawCitation(p.id, _first_sentence(p.text)) for p in passages[:1]]
        if not cites:
            continue
        lr = f", log likelihood ratio {cand.log_lr:.1f}" if cand.log_lr is not None else ""
        claims.append(
            RawClaim(
                id=cand.id,
                name=cand.name,
                likelihood="high" if i == 0 else "medium",
                rationale=f"Ranked {cand.rank} by the knowledge graph{lr}; "
                f"{len(facts)} of its annotated findings match the patient.",
                citations=cites,
            )
        )
    return claims
