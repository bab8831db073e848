"""The one case request every entry point builds.

The Python API, the CLI (one case and batches), REST and MCP all build it. A case is free
text and/or coded findings, optionally with the caller's hypotheses (the differential to
ground), and how to answer it (pretest-probability setting, ranking method, how many
candidates, how much evidence). Its limits live in one table, :data:`LIMITS`, and are
checked once, here: :meth:`CaseRequest.parse` turns anything a caller sends (keyword
arguments, a JSON object, a JSONL record) into a valid request or raises
:class:`~kgrag.errors.InvalidRequest` naming each bad field and what is expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from kgrag.errors import InvalidRequest
from kgrag.retrieval.priors import Setting
from kgrag.retrieval.types import EvidenceLevel, FindingInput
from kgrag.types import BoundaryModel

LIMITS: dict[str, int] = {
    "text_chars": 200_000,  # characters of free text in one case
    "findings": 2_000,  # coded findings in one case
    "hypotheses": 50,  # hypotheses to ground in one case
    "hypothesis_chars": 300,  # characters of one hypothesis (a name or a code)
    "top_k": 500,  # candidates in a report
    "passages_k": 200,  # passages searched
}
"""The limits of one case request, the same for every entry point."""


class CaseRequest(BoundaryModel):
    """A case and how to answer it: what ``diagnose``, ``retrieve``, ``ground`` and ``answer`` take.

    Attributes:
        text: a patient description (linked, assertion-tagged).
        findings: coded findings: ``{"id": CODE, "absent": bool}`` (a bare code string is a
            present finding; ``excluded`` is accepted for ``absent``).
        hypotheses: diagnoses to ground: free-text names ("community-acquired pneumonia",
            "MI"), codes of any shipped vocabulary (``ICD10CM:J18.9``) or unified concept ids.
        setting: pretest probability, ``general`` | ``rare`` | ``uniform`` (None: the
            ``diagnose_setting`` setting).
        method: a ranker's name (None: the ``diagnose_method`` setting).
        top_k: candidates in a report (>= 1).
        evidence: ``none`` | ``summary`` | ``full`` (see
            :data:`~kgrag.retrieval.types.EvidenceLevel`).
        passages_k: passages searched (None: the ``passages_k`` setting).
        consider_also: with hypotheses, also return kgrag's own top candidates that are not
            among them (a second opinion).

    Examples:
        >>> CaseRequest.parse(text="Fever and cough.", hypotheses=["pneumonia"]).top_k
        10
    """

    text: str | None = Field(default=None, max_length=LIMITS["text_chars"])
    findings: list[FindingInput] = Field(default_factory=list, max_length=LIMITS["findings"])
    hypotheses: list[str] = Field(default_factory=list, max_length=LIMITS["hypotheses"])
    setting: Setting | None = None
    method: str | None = None
    top_k: int = Field(default=10, ge=1, le=LIMITS["top_k"], strict=True)
    evidence: EvidenceLevel = "full"
    passages_k: int | None = Field(default=None, ge=1, le=LIMITS["passages_k"], strict=True)
    consider_also: bool = Field(default=True, strict=True)

    @field_validator("findings", mode="before")
    @classmethod
    def _codes_are_findings(cls, value: object) -> object:
        """A bare code string in ``findings`` is a present finding."""
        if isinstance(value, (str, bytes, Mapping)):
            raise ValueError(
                'must be a list of codes ("HP:0001250") or {"id": CODE, "absent": bool} objects'
            )
        if isinstance(value, (list, tuple)):
            return [{"id": f} if isinstance(f, str) else f for f in value]
        return value

    @field_validator("hypotheses", mode="before")
    @classmethod
    def _hypotheses_are_names(cls, value: object) -> object:
        if isinstance(value, (str, bytes, Mapping)):
            raise ValueError('must be a list of names or codes (["pneumonia", "ICD10CM:J20.9"])')
        return value

    @field_validator("hypotheses")
    @classmethod
    def _hypotheses_not_blank(cls, value: list[str]) -> list[str]:
        for i, h in enumerate(value):
            if not h.strip():
                raise ValueError(f"hypotheses[{i}] is empty; give a disease name or code")
            if len(h) > LIMITS["hypothesis_chars"]:
                raise ValueError(
                    f"hypotheses[{i}] has {len(h)} characters; at most {LIMITS['hypothesis_chars']}"
                )
        return value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        from kgrag.retrieval.rankers import RANKERS

        if value is not None and value not in RANKERS:
            raise ValueError(f"must be one of {', '.join(RANKERS)} (or null)")
        return value

    @model_validator(mode="after")
    def _something(self) -> CaseRequest:
        if not (self.text and self.text.strip()) and not self.findings:
            raise ValueError("give text, findings or both (a case needs at least one finding)")
        return self

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None = None, /, **fields: Any) -> CaseRequest:
        """A valid request from a mapping and/or keyword fields (None values are left out).

        Args:
            data: a JSON object or JSONL record (unknown keys are refused).
            **fields: fields given as keyword arguments (they override ``data``).

        Returns:
            The request.

        Raises:
            InvalidRequest: a field of the wrong type or value, or over a limit of
                :data:`LIMITS`; the message names every bad field and what is expected.
        """
        merged = {**(data or {}), **{k: v for k, v in fields.items() if v is not None}}
        try:
            return cls.model_validate(merged)
        except ValidationError as e:
            raise InvalidRequest(describe(e)) from e


def describe(e: ValidationError) -> str:
    """A validation error as one line a person can act on: each field and what went wrong."""
    parts = []
    for err in e.errors():
        where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in err["loc"]).lstrip(".")
        where = where or "request"
        msg = str(err["msg"]).removeprefix("Value error, ")
        got = err.get("input")
        shown = f" (got {got!r:.60})" if got is not None and not isinstance(got, (dict, list)) else ""
        parts.append(f"{where}: {msg}{shown}")
    return "invalid request: " + "; ".join(parts)
