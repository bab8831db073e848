"""Diagnostic differences.

The findings that best separate the top candidates, asked as follow-up questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.types import ConceptRef, FollowUp


def follow_ups(
    model: DiagnosticModel,
    candidates: Sequence[int],
    weights: Sequence[float],
    present: Sequence[int],
    absent: Sequence[int],
    n: int = 5,
) -> list[FollowUp]:
    """Terms annotated to some candidates and not others, best separators first.

    Each is scored by the weighted variance of its frequency across the candidates times its
    information content. Terms the patient already reported (or their ancestors) are skipped.
    """
    if len(candidates) < 2:
        return []
    known = {a for t in present for a in model.ancestors[t]} | set(absent)
    terms = {
        a.term
        for d in candidates
        for a in model.by_disease[d]
        if not a.not_shown and a.term not in known
    }
    if not terms:
        return []
    w = np.asarray(weights, float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    cols = sorted(terms)
    sub = model.F_rows[list(candidates)].toarray()[:, cols]  # candidates x terms
    mean = w @ sub
    gain = (w @ (sub - mean) ** 2) * model.ic[cols]
    out: list[FollowUp] = []
    for j in np.argsort(-gain)[:n]:
        if gain[j] <= 0:
            break
        t = cols[j]
        f = sub[:, j]
        top = f.max()
        name = model.term_names[t]
        out.append(
            FollowUp(
                finding=ConceptRef(id=model.terms[t], name=name, tier="finding"),
                question=_question(name),
                supports=[model.diseases[candidates[i]] for i in np.flatnonzero(f >= 0.5 * top)],
                against=[model.diseases[candidates[i]] for i in np.flatnonzero(f == 0)],
                gain=round(float(gain[j]), 4),
            )
        )
    return out


def _question(name: str) -> str:
    """The follow-up question for a finding name.

    A name that is already a question or a prompt (DDXPlus evidences are named by their
    question: "Have you had chills or shivers?", "Characterize your pain:") is asked as it is.
    """
    name = name.strip()
    if name.endswith(("?", ":")):
        return name
    return f"Does the patient have {name[:1].lower() + name[1:]}?"
