"""Hypothesis-first generation: the LLM's differential, grounded, as the answer's evidence.

Two steps before the answer: :func:`propose` asks the LLM for a differential from the case
alone (schema-constrained names, nothing cited yet); :func:`grounded_candidates` turns the
grounded hypotheses (:meth:`~kgrag.retrieval.diagnose.Diagnoser.ground`) into the evidence
bundle's candidates, so the final answer can cite only grounded, verified evidence and the
verifier checks it exactly as it checks kgrag's own candidates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from kgrag.errors import LLMError
from kgrag.generate.llm import LLM
from kgrag.generate.types import Message
from kgrag.retrieval.grounded import GroundedDifferential
from kgrag.retrieval.types import DiagnosisCandidate, FindingEvidence

logger = logging.getLogger(__name__)

MAX_PROPOSED = 5
PROPOSAL_SCHEMA = {
    "type": "object",
    "properties": {
        "diagnoses": {
            "type": "array",
            "items": {"type": "string", "minLength": 2, "maxLength": 120},
            "minItems": 1,
            "maxItems": MAX_PROPOSED,
        }
    },
    "required": ["diagnoses"],
    "additionalProperties": False,
}
_SYSTEM = (
    "You are a diagnostician. Read the case and list the most likely diagnoses, most likely "
    f"first, at most {MAX_PROPOSED}. Give standard disease names only, no explanations. "
    'Answer with JSON: {"diagnoses": ["...", "..."]}.'
)


def propose(llm: LLM, case: str, *, max_tokens: int = 256, timeout: float = 60.0) -> list[str]:
    """The LLM's differential for ``case``: up to :data:`MAX_PROPOSED` disease names.

    Args:
        llm: the model.
        case: the case as text (a note, or its findings' names).
        max_tokens: the reply's token limit.
        timeout: seconds for the request.

    Returns:
        The names, most likely first, without duplicates; empty when the model fails or
        its reply is not of the schema's shape (the caller then grounds kgrag's own
        candidates only).
    """
    messages = [Message(role="system", content=_SYSTEM), Message(role="user", content=case[:6000])]
    try:
        reply = llm.complete(messages, PROPOSAL_SCHEMA, max_tokens=max_tokens, timeout=timeout)
        names = json.loads(reply.text)["diagnoses"]
    except (LLMError, ValueError, KeyError, TypeError) as e:
        logger.warning("the LLM proposed no differential (%s): grounding kgrag's own", type(e).__name__)
        return []
    if not isinstance(names, list):
        return []
    out: dict[str, None] = {}
    for n in names:
        if isinstance(n, str) and 2 <= len(n.strip()) <= 120:
            out.setdefault(" ".join(n.split()), None)
    return list(out)[:MAX_PROPOSED]


def grounded_candidates(grounded: GroundedDifferential) -> list[DiagnosisCandidate]:
    """The resolved hypotheses with any evidence, as bundle candidates in grounded order.

    Support and against become the candidate's finding evidence (facts keep their log
    likelihood ratios; a passage mention counts as weak support, log LR 0), and the
    hypothesis's passages its passages. Hypotheses that are unresolved or of which the
    knowledge base knows nothing are left out: there is nothing to cite for them.
    """
    out: list[DiagnosisCandidate] = []
    for h in grounded.hypotheses:
        if h.concept is None or h.coverage.level == "nothing":
            continue
        findings = [
            FindingEvidence(
                finding=g.finding,
                absent=g.absent,
                not_shown=g.basis == "not_shown",
                matched=g.matched,
                annotated=None,
                frequency=g.frequency,
                log_lr=g.log_lr if g.log_lr is not None else 0.0,
                citations=g.citations,
            )
            for g in [*h.support, *h.against]
        ]
        out.append(
            DiagnosisCandidate(
                rank=len(out) + 1,
                concept_id=h.concept.id,
                name=h.concept.name,
                codes=h.codes,
                score=h.score if h.score is not None else 0.0,
                probability=h.probability,
                log_lr=h.log_lr,
                log_prior=h.log_prior,
                prior_class=h.prior_class,
                findings=findings,
                passages=h.passages,
            )
        )
    return out


def merge(
    first: Sequence[DiagnosisCandidate], then: Sequence[DiagnosisCandidate]
) -> list[DiagnosisCandidate]:
    """``first`` then the candidates of ``then`` not already in it, ranks renumbered."""
    seen = {c.concept_id for c in first}
    merged = [*first, *(c for c in then if c.concept_id not in seen)]
    return [c.model_copy(update={"rank": i}) for i, c in enumerate(merged, start=1)]
