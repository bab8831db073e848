"""The case request of the case commands (``diagnose``, ``retrieve``, ``ground``), one case or a batch.

Both build the one :class:`~kgrag.retrieval.request.CaseRequest`: from the command line's
TEXT, ``--finding``/``--absent`` and ``--hypothesis`` options, or from each JSONL record's
``text``, ``findings`` and ``hypotheses`` (other keys of a record, such as ``gold``, are
ignored; ``id`` is echoed back), with the command's other options applied to every case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kgrag.cli._output import usage_error
from kgrag.errors import InvalidRequest
from kgrag.retrieval.request import CaseRequest

RECORD_FIELDS = ("text", "findings", "hypotheses")


def coded(present: list[str] | None, absent: list[str] | None) -> list[dict[str, Any]]:
    """``--finding`` and ``--absent`` codes as findings."""
    return [{"id": f} for f in present or ()] + [{"id": f, "absent": True} for f in absent or ()]


def check_source(text: str | None, findings: list[Any], input: Path | None) -> None:
    """Exactly one source of cases: TEXT/--finding, or --input FILE (exit 2 otherwise)."""
    if input is not None and (text or findings):
        usage_error("give TEXT/--finding or --input FILE, not both")
    if input is None and not (text or findings):
        usage_error("give a TEXT, --finding/--absent codes, or --input FILE")


def from_record(record: dict[str, Any], lineno: int, **options: Any) -> tuple[Any, CaseRequest]:
    """``(id, request)`` of one JSONL record (``id`` defaults to the line number).

    Raises:
        InvalidRequest: the record's case is not valid.
    """
    if not isinstance(record, dict):
        raise InvalidRequest("a line must be a JSON object {id, text|findings, hypotheses?}")
    case = {k: record[k] for k in RECORD_FIELDS if k in record and record[k] is not None}
    return record.get("id", lineno), CaseRequest.parse(case, **options)
