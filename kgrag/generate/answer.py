"""The generate stage: an evidence bundle in, a :class:`GroundedDiagnosis` out.

``ground`` numbers the bundle's evidence, abstains when it is too weak, asks the LLM
(re-asking at most twice with the validation error when the reply is not JSON of the
required shape or was cut off), verifies every citation and claim, and falls back to the
extractive report when the LLM fails, never answers validly, or none of its claims is
supported. Nothing the LLM returns can raise out of here.

**Abstention threshold.** The answer is ``insufficient_evidence`` when the patient has no
present finding, or when the evidence is weak: the top candidate's log likelihood ratio
is below ``abstain_log_lr`` (default 1.0: the findings make it less than e times likelier
than the background) *and* no passage reaches a similarity of ``abstain_passage_score``
(default 0.5, cosine of the passage encoder).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kgrag.config import Settings, get_settings
from kgrag.errors import AnswerInvalid, ConfigError, LLMError, NoUsableFindings
from kgrag.generate.evidence import EvidencePack, evidence_pack
from kgrag.generate.extractive import extractive_claims
from kgrag.generate.llm import LLM
from kgrag.generate.prompt import build_messages, output_schema, reask_message
from kgrag.generate.quotes import NORMALIZATION
from kgrag.generate.types import Completion, GroundedDiagnosis, GroundingCounts, Message
from kgrag.generate.verify import (
    DocumentSource,
    RawCitation,
    RawClaim,
    StoreDocuments,
    Verification,
    check_report,
    verify_claims,
)
from kgrag.retrieval.types import EvidenceBundle, FindingInput

if TYPE_CHECKING:
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.priors import Setting

logger = logging.getLogger(__name__)
MAX_REASKS = 2


class GenerateOptions(BaseModel):
    """Per-request options of :func:`ground` (``kgrag.answer(..., **options)``)."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(768, ge=16)
    temperature: float = Field(0.0, ge=0, le=2)
    timeout: float = Field(120.0, gt=0, description="seconds per LLM request")
    reasks: int = Field(MAX_REASKS, ge=0, le=MAX_REASKS)
    unsupported: Literal["remove", "flag"] = "remove"
    abstain_log_lr: float = 1.0
    abstain_passage_score: float = 0.5
    max_candidates: int = Field(5, ge=1, le=50)
    facts_per_candidate: int = Field(4, ge=0, le=20)
    max_passages: int = Field(6, ge=0, le=50)
    passage_chars: int = Field(500, ge=40, le=5000)
    extractive_claims: int = Field(3, ge=1, le=10)
    hypotheses_from: Literal["kgrag", "llm", "both"] = Field(
        "kgrag",
        description="where the differential to answer about comes from when the caller gives "
        "none: kgrag (its own ranking, kgrag-first), llm (the LLM proposes names from the case "
        "alone, kgrag grounds them) or both (the LLM's, grounded, then kgrag's own)",
    )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> GenerateOptions:
        """Options from ``settings`` (the process-wide ones by default), with ``overrides`` on top."""
        s = settings or get_settings()
        base: dict[str, Any] = {
            "max_tokens": s.llm_max_tokens,
            "temperature": s.llm_temperature,
            "timeout": s.llm_timeout,
            "unsupported": s.llm_unsupported,
            "abstain_log_lr": s.llm_abstain_log_lr,
            "abstain_passage_score": s.llm_abstain_passage_score,
        }
        try:
            return cls(**{**base, **overrides})
        except ValidationError as e:
            raise ConfigError(f"invalid generate options: {e}") from e

    def pack(self, bundle: EvidenceBundle) -> EvidencePack:
        """The bundle's evidence numbered for a prompt, within these options' limits."""
        return evidence_pack(
            bundle,
            max_candidates=self.max_candidates,
            facts_per_candidate=self.facts_per_candidate,
            max_passages=self.max_passages,
            passage_chars=self.passage_chars,
        )


def parse_answer(completion: Completion, shape: dict[str, Any]) -> tuple[bool, list[RawClaim]]:
    """The model's reply as claims, or :class:`AnswerInvalid` saying what is wrong.

    Args:
        completion: the reply.
        shape: the output schema without id enums (ids are the verifier's business).

    Returns:
        ``(insufficient_evidence, claims)``.
    """
    if completion.finish_reason in ("length", "timeout"):
        raise AnswerInvalid(
            f"the answer was cut off ({completion.finish_reason}, {completion.completion_tokens} tokens)"
        )
    text = completion.text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    if not text:
        raise AnswerInvalid("the answer was empty")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise AnswerInvalid(f"malformed JSON ({e})") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(shape).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        raise AnswerInvalid(f"schema violation at {where}: {error.message[:300]}")
    claims = [
        RawClaim(
            id=d["id"],
            name=d["name"],
            likelihood=d["likelihood"],
            rationale=d["rationale"],
            citations=[RawCitation(c["evidence"], c["quote"]) for c in d["citations"]],
        )
        for d in value["diagnoses"]
    ]
    return bool(value["insufficient_evidence"]), claims


def weak_evidence(pack: EvidencePack, options: GenerateOptions) -> str | None:
    """Why the evidence is too weak to answer from (see the module's threshold), or None."""
    if not pack.present:
        return "no present finding"
    top = pack.candidates[0].log_lr if pack.candidates else None
    best_passage = max((i.score for i in pack.items if i.kind == "passage"), default=0.0)
    if (top is None or top < options.abstain_log_lr) and best_passage < options.abstain_passage_score:
        return (
            f"the evidence is too weak: top candidate log LR "
            f"{'none' if top is None else f'{top:.2f}'} < {options.abstain_log_lr} and best "
            f"passage similarity {best_passage:.2f} < {options.abstain_passage_score}"
        )
    return None


def abstain(
    reason: str,
    pack: EvidencePack | None = None,
    *,
    source: str = "extractive",
    model: str | None = None,
    started: float | None = None,
) -> GroundedDiagnosis:
    """An ``insufficient_evidence`` answer: no diagnoses, no citations, the reason."""
    return GroundedDiagnosis(
        status="insufficient_evidence",
        source=source,  # type: ignore[arg-type]
        model=model,
        verified=True,
        normalization=NORMALIZATION,
        present=[f.name for f in pack.present] if pack else [],
        absent=[f.name for f in pack.absent] if pack else [],
        reason=reason,
        latency_ms=round((time.perf_counter() - started) * 1000, 1) if started else 0.0,
    )


def _report(
    v: Verification,
    pack: EvidencePack,
    documents: DocumentSource,
    *,
    source: Literal["llm", "extractive"],
    model: str | None,
    started: float,
    reason: str | None = None,
    attempts: int = 0,
    errors: Sequence[str] = (),
    model_counts: GroundingCounts | None = None,
) -> GroundedDiagnosis:
    report = GroundedDiagnosis(
        status="answered",
        source=source,
        model=model,
        verified=False,
        normalization=NORMALIZATION,
        present=[f.name for f in pack.present],
        absent=[f.name for f in pack.absent],
        diagnoses=v.claims,
        citations=v.citations,
        removed=v.removed,
        rejected=v.rejected,
        counts=v.counts,
        model_counts=model_counts,
        reason=reason,
        attempts=attempts,
        errors=list(errors),
    )
    problems = check_report(report.body, report.citations, pack, documents)
    if problems:  # cannot happen by construction; never return it as verified
        logger.error("grounded report failed its own check: %s", "; ".join(problems))
    verified = not problems and bool(v.claims) and all(c.supported for c in v.claims)
    return report.model_copy(
        update={"verified": verified, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    )


def _extractive(
    pack: EvidencePack, documents: DocumentSource, options: GenerateOptions, started: float, **kw: Any
) -> GroundedDiagnosis:
    v = verify_claims(
        extractive_claims(pack, max_claims=options.extractive_claims),
        pack,
        documents,
        unsupported="remove",
    )
    if not v.claims:
        return abstain("no candidate has verifiable evidence", pack, started=started)
    return _report(v, pack, documents, source="extractive", model=None, started=started, **kw)


def ground(
    bundle: EvidenceBundle,
    documents: DocumentSource,
    llm: LLM | None = None,
    options: GenerateOptions | None = None,
) -> GroundedDiagnosis:
    """Answer from ``bundle`` with ``llm`` (or extractively), every citation verified.

    Args:
        bundle: the retrieval bundle of the request.
        documents: the stored documents the bundle's passages come from (re-read).
        llm: the model; ``None`` gives the extractive report.
        options: see :class:`GenerateOptions` (default: from settings).

    Returns:
        The grounded diagnosis; LLM failures and invalid replies become a fallback with
        the reason, never an exception.
    """
    started = time.perf_counter()
    options = options or GenerateOptions.from_settings()
    pack = options.pack(bundle)
    weak = weak_evidence(pack, options)
    if weak:
        return abstain(weak, pack, started=started)
    if llm is None:
        return _extractive(pack, documents, options, started)
    messages: list[Message] = build_messages(pack)
    schema, shape = output_schema(pack), output_schema(pack, ids_as_enums=False)
    errors: list[str] = []
    parsed: tuple[bool, list[RawClaim]] | None = None
    attempts = 0
    for _ in range(1 + options.reasks):
        attempts += 1
        try:
            completion = llm.complete(
                messages,
                schema,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                timeout=options.timeout,
            )
        except LLMError as e:
            logger.warning("LLM %s failed: %s", llm.name, e)
            return _extractive(
                pack,
                documents,
                options,
                started,
                reason=f"the LLM failed: {e}",
                attempts=attempts,
                errors=errors,
            )
        try:
            parsed = parse_answer(completion, shape)
            break
        except AnswerInvalid as e:
            errors.append(str(e))
            messages = [
                *messages,
                Message(role="assistant", content=completion.text[:4000]),
                reask_message(str(e)),
            ]
    if parsed is None:
        return _extractive(
            pack,
            documents,
            options,
            started,
            attempts=attempts,
            errors=errors,
            reason=f"no valid answer in {attempts} attempts ({errors[-1]})",
        )
    insufficient, claims = parsed
    if insufficient and not claims:
        return abstain(
            "the model found the evidence insufficient",
            pack,
            source="llm",
            model=llm.name,
            started=started,
        ).model_copy(update={"attempts": attempts, "errors": errors})
    v = verify_claims(claims, pack, documents, unsupported=options.unsupported)
    if not any(c.supported for c in v.claims):
        return _extractive(
            pack,
            documents,
            options,
            started,
            attempts=attempts,
            errors=errors,
            model_counts=v.counts,
            reason=f"none of the model's {len(claims)} diagnoses was supported",
        )
    return _report(
        v,
        pack,
        documents,
        source="llm",
        model=llm.name,
        started=started,
        attempts=attempts,
        errors=errors,
    )


def answer_with(
    diagnoser: Diagnoser,
    text: str | None = None,
    findings: Sequence[FindingInput | dict[str, Any] | str] | None = None,
    *,
    llm: LLM | None = None,
    top_k: int = 10,
    options: GenerateOptions | None = None,
    passages_k: int | None = None,
    setting: Setting | None = None,
    hypotheses: Sequence[str] = (),
) -> GroundedDiagnosis:
    """Retrieve with ``diagnoser`` and answer with ``llm``; no present finding abstains.

    With ``hypotheses`` (or, without them, ``options.hypotheses_from`` ``llm``/``both`` and an
    LLM that proposes a differential from the case alone), the hypotheses are grounded
    first and the answer's candidates are the grounded hypotheses, then kgrag's own.

    Args:
        diagnoser: the retrieval stage over a built knowledge base.
        text: a patient description (linked, assertions read).
        findings: coded findings (``{"id", "excluded"}`` or plain codes).
        llm: the model (``None``: extractive report).
        top_k: retrieval candidates in the bundle.
        options: see :class:`GenerateOptions`.
        passages_k: passages retrieved (default: settings).
        setting: the pretest probability of the retrieval ranking (default: settings).
        hypotheses: a differential to ground and answer about (names or codes).

    Returns:
        The grounded diagnosis.
    """
    started = time.perf_counter()
    opts = options or GenerateOptions.from_settings(diagnoser.settings)
    try:
        bundle = diagnoser.retrieve(
            text, findings, top_k=top_k, passages_k=passages_k, setting=setting
        )
    except NoUsableFindings as e:
        return abstain(f"no present finding: {e}", started=started)
    bundle = hypotheses_first(diagnoser, bundle, text, findings, llm, opts, setting, hypotheses)
    report = ground(bundle, StoreDocuments(diagnoser.store), llm, opts)
    return report.model_copy(update={"latency_ms": round((time.perf_counter() - started) * 1000, 1)})


def hypotheses_first(
    diagnoser: Diagnoser,
    bundle: EvidenceBundle,
    text: str | None,
    findings: Sequence[FindingInput | dict[str, Any] | str] | None,
    llm: LLM | None,
    options: GenerateOptions,
    setting: Setting | None,
    hypotheses: Sequence[str],
) -> EvidenceBundle:
    """The bundle with the grounded hypotheses first (unchanged when there are none).

    The hypotheses are ``hypotheses`` when given, else (with ``options.hypotheses_from``
    ``llm`` or ``both`` and an LLM) the LLM's proposal from the case alone
    (:func:`kgrag.generate.hypotheses.propose`). Given hypotheses and ``both`` keep kgrag's
    own candidates after the grounded ones; ``llm`` alone answers over the grounded ones.
    """
    from kgrag.generate.hypotheses import grounded_candidates, merge, propose
    from kgrag.retrieval.request import CaseRequest

    names = list(hypotheses)
    if not names and llm is not None and options.hypotheses_from != "kgrag":
        case = text or "; ".join(f.name for f in bundle.query.present)
        names = propose(llm, case, timeout=options.timeout)
    if not names:
        return bundle
    coded = [f if isinstance(f, (str, dict)) else f.model_dump() for f in findings or ()]
    request = CaseRequest.parse(
        text=text, findings=coded, hypotheses=names, setting=setting, consider_also=False
    )
    grounded = grounded_candidates(diagnoser.ground(request))
    own = bundle.diseases if hypotheses or options.hypotheses_from == "both" else []
    diseases = merge(grounded, own)
    seen = {p.chunk for p in bundle.passages}
    extra = [p for c in grounded for p in c.passages if p.chunk not in seen]
    return bundle.model_copy(update={"diseases": diseases, "passages": [*bundle.passages, *extra]})
