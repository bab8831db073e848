"""The prompt and the per-request output schema.

The schema is built for each request: the cited evidence id is an enum of the bundle's
ids, the diagnosis id an enum of the candidates plus ``"other"`` (with a name); every
field is required, objects forbid additional properties, enums are capped at
``MAX_ENUM`` values, nesting is three objects deep, and only keywords that llama.cpp's
grammar converter honours are used (:func:`lint_schema` checks this; a test runs it).
"""

from __future__ import annotations

import json
from typing import Any

from kgrag.generate.evidence import EvidencePack
from kgrag.generate.types import Message

MAX_ENUM = 256
MAX_DIAGNOSES = 5
MAX_CITATIONS = 3
OTHER = "other"
# keywords llama.cpp's JSON-schema-to-grammar converter applies; anything else (pattern,
# uniqueItems, not, format, if/then, ...) may be skipped silently and is refused here
ALLOWED_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "minItems",
        "maxItems",
        "description",
    }
)
MAX_DEPTH = 3  # objects nested in objects (through arrays)

SYSTEM = (
    "You are a careful clinical diagnostician. You reason only from the numbered evidence "
    "you are given. Answer with one JSON object and nothing else."
)


def output_schema(pack: EvidencePack, *, ids_as_enums: bool = True) -> dict[str, Any]:
    """The JSON schema of an answer to this request.

    Args:
        pack: the numbered evidence and candidates of the request.
        ids_as_enums: False gives the *shape* alone (ids are free strings): the verifier,
            not a re-ask, deals with ids outside the bundle.

    Returns:
        A JSON schema (a dict) that :func:`lint_schema` accepts.
    """
    evidence_ids = [i.id for i in pack.items][:MAX_ENUM]
    diagnosis_ids = [*[c.id for c in pack.candidates][: MAX_ENUM - 1], OTHER]

    def ids(values: list[str]) -> dict[str, Any]:
        return {"type": "string", "enum": values} if ids_as_enums and values else {"type": "string"}

    citation = {
        "type": "object",
        "properties": {"evidence": ids(evidence_ids), "quote": {"type": "string"}},
        "required": ["evidence", "quote"],
        "additionalProperties": False,
    }
    diagnosis = {
        "type": "object",
        "properties": {
            "id": ids(diagnosis_ids),
            "name": {"type": "string"},
            "likelihood": {"type": "string", "enum": ["high", "medium", "low"]},
            "rationale": {"type": "string"},
            "citations": {"type": "array", "items": citation, "maxItems": MAX_CITATIONS},
        },
        "required": ["id", "name", "likelihood", "rationale", "citations"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "insufficient_evidence": {"type": "boolean"},
            "diagnoses": {"type": "array", "items": diagnosis, "maxItems": MAX_DIAGNOSES},
        },
        "required": ["insufficient_evidence", "diagnoses"],
        "additionalProperties": False,
    }


def lint_schema(schema: dict[str, Any]) -> list[str]:
    """What in ``schema`` a grammar-constrained backend could ignore or choke on.

    Returns:
        One message per problem (empty when the schema is fit): keywords outside
        ``ALLOWED_KEYWORDS``, objects without ``additionalProperties: false`` or with
        optional properties, enums over ``MAX_ENUM``, nesting deeper than ``MAX_DEPTH``.
    """
    problems: list[str] = []

    def walk(node: dict[str, Any], where: str, depth: int) -> None:
        for key in node:
            if key not in ALLOWED_KEYWORDS:
                problems.append(f"{where}: keyword {key!r} is not honoured by every backend")
        if "enum" in node and len(node["enum"]) > MAX_ENUM:
            problems.append(f"{where}: enum of {len(node['enum'])} values (cap {MAX_ENUM})")
        if node.get("type") == "object":
            depth += 1
            if depth > MAX_DEPTH:
                problems.append(f"{where}: objects nested {depth} deep (at most {MAX_DEPTH})")
            if node.get("additionalProperties") is not False:
                problems.append(f"{where}: additionalProperties must be false")
            props = node.get("properties", {})
            if set(node.get("required", [])) != set(props):
                problems.append(f"{where}: every property must be required")
            for name, sub in props.items():
                walk(sub, f"{where}.{name}", depth)
        if "items" in node:
            walk(node["items"], f"{where}[]", depth)

    walk(schema, "$", 0)
    return problems


def _evidence_block(pack: EvidencePack) -> str:
    lines = []
    for item in pack.items:
        if item.kind == "fact":
            refs = f" (sources: {', '.join(item.references[:3])})" if item.references else ""
            lines.append(f"[{item.id}] graph fact: {item.text}{refs}")
        else:
            text = " ".join(item.text.split())
            lines.append(f'[{item.id}] passage from "{item.title}": {text}')
    return "\n".join(lines)


def build_messages(pack: EvidencePack) -> list[Message]:
    """The chat messages for one request.

    The patient's findings, the candidate differential, the numbered evidence and the answer
    contract.
    """
    present = ", ".join(f.name for f in pack.present) or "none"
    absent = ", ".join(f.name for f in pack.absent) or "none"
    candidates = "\n".join(f"- {c.id}: {c.name}" for c in pack.candidates)
    example = {
        "insufficient_evidence": False,
        "diagnoses": [
            {
                "id": pack.candidates[0].id if pack.candidates else OTHER,
                "name": pack.candidates[0].name if pack.candidates else "disease name",
                "likelihood": "high",
                "rationale": "one short sentence",
                "citations": [
                    {
                        "evidence": pack.items[0].id if pack.items else "F1",
                        "quote": "words copied exactly from that evidence",
                    }
                ],
            }
        ],
    }
    user = (
        f"Patient findings present: {present}.\nFindings absent: {absent}.\n\n"
        f"Candidate diagnoses (id: name):\n{candidates}\n\n"
        f"Evidence:\n{_evidence_block(pack)}\n\n"
        f"Give a differential of at most {MAX_DIAGNOSES} diagnoses, most likely first. Use a "
        f'candidate id, or "{OTHER}" with the disease\'s name. For each, cite up to '
        f"{MAX_CITATIONS} pieces of evidence by id, each with a short quote copied word for "
        "word from that evidence about that disease. Set insufficient_evidence to true and "
        "give no diagnoses if the evidence does not support any diagnosis.\n"
        f"Answer with JSON like: {json.dumps(example)}"
    )
    return [Message(role="system", content=SYSTEM), Message(role="user", content=user)]


def reask_message(error: str) -> Message:
    """The follow-up user message after an invalid reply: what was wrong and how to answer again."""
    return Message(
        role="user",
        content=(
            f"Your answer was not valid: {error}. Reply again with only the JSON object, "
            f"matching the required fields, shorter if it was cut off (at most "
            f"{MAX_DIAGNOSES} diagnoses, one-sentence rationales)."
        ),
    )
