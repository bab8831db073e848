"""Compiling the diagnostic model from a graph store (at build time, bulk reads only).

Everything a query needs from the graph's structure is read here once: the
``HAS_FINDING`` annotations merged per (disease, finding, polarity), the IS_A hierarchy
above the findings, the names, and the category path of every disease and group concept.
"""

from __future__ import annotations

import logging

from kgrag.graph.base import GraphStore
from kgrag.graph.schema import NOT_SHOWN_POLARITIES, Claim, EdgeType, Label, Tier, edge_frequency
from kgrag.progress import Progress
from kgrag.retrieval.model import Annotation, CategoryStep, DiagnosticModel

logger = logging.getLogger(__name__)

MAX_CATEGORY_DEPTH = 12

_Merged = dict[tuple[str, str, bool], tuple[list[Claim], set[str]]]


def compile_model(
    store: GraphStore, *, fingerprint: str = "", progress: Progress | None = None
) -> DiagnosticModel:
    """Read every HAS_FINDING edge, the IS_A hierarchy above the findings and the names.

    Args:
        store: the knowledge base (any :class:`~kgrag.graph.base.GraphStore`).
        fingerprint: the build's fingerprint, recorded in the model (checked on load).
        progress: receives one line per step (default: the log).

    Returns:
        The model, with the category path of every disease and group concept.
    """
    say = progress or (lambda m: logger.info("%s", m))
    merged = _merged_annotations(store)
    say(f"diagnostic model: {len(merged):,} disease-finding annotations")
    parents_of: dict[str, list[str]] = {}
    for e in store.iter_edges([EdgeType.IS_A]):
        parents_of.setdefault(e.src, []).append(e.dst)
    diseases = sorted({d for d, _, _ in merged})
    terms: dict[str, int] = {}
    stack = sorted({t for _, t, _ in merged})
    while stack:
        t = stack.pop()
        if t not in terms:
            terms[t] = len(terms)
            stack.extend(parents_of.get(t, ()))
    names: dict[str, str] = {}
    tiers: dict[str, Tier] = {}
    for n in store.iter_nodes(Label.CONCEPT):
        names[n.id] = n.name
        if n.tier is not None:
            tiers[n.id] = n.tier
    term_list = list(terms)
    d_index = {d: i for i, d in enumerate(diseases)}
    annotations = [
        Annotation(
            d_index[d],
            terms[t],
            edge_frequency(claims),
            not_shown,
            tuple(sorted(refs)),
        )
        for (d, t, not_shown), (claims, refs) in merged.items()
    ]
    say(f"diagnostic model: {len(diseases):,} diseases, {len(term_list):,} finding terms")
    placed = set(diseases) | {c for c, t in tiers.items() if t in (Tier.DISEASE, Tier.GROUP)}
    paths = {c: p for c in sorted(placed) if (p := category_path(c, parents_of, tiers, names))}
    return DiagnosticModel(
        term_list,
        [names.get(t, t) for t in term_list],
        [[terms[p] for p in parents_of.get(t, ()) if p in terms] for t in term_list],
        diseases,
        [names.get(d, d) for d in diseases],
        annotations,
        fingerprint=fingerprint,
        category_paths=paths,
    )


def is_not_shown(claim: Claim) -> bool:
    """Does this claim of a HAS_FINDING fact say the disease does *not* show the finding?

    The claim's own ``polarity`` decides (a claim without one, as every source but HPO
    annotations writes, is ``present``: the edge's polarity sums up all sources' claims
    and is not the claim's); a frequency of 0 ("0/7 patients") says so too, in graphs
    built before polarity came from frequency.
    """
    polarity = claim.props.get("polarity", "present")
    return polarity in NOT_SHOWN_POLARITIES or claim.props.get("frequency") == 0


def _merged_annotations(store: GraphStore) -> _Merged:
    """``(disease, finding, not_shown) -> (claims, references)`` over every claim.

    See :func:`is_not_shown`; only present claims are kept, for :func:`edge_frequency`.
    """
    merged: _Merged = {}
    for e in store.iter_edges([EdgeType.HAS_FINDING]):
        for c in e.claims:
            not_shown = is_not_shown(c)
            claims, refs = merged.setdefault((e.src, e.dst, not_shown), ([], set()))
            if not not_shown:
                claims.append(c)
            refs.add(c.reference or c.source)
    return merged


def category_path(
    concept: str, parents_of: dict[str, list[str]], tiers: dict[str, Tier], names: dict[str, str]
) -> list[CategoryStep]:
    """The nearest group and the nearest category above ``concept``.

    The one algorithm for category paths: breadth first over IS_A, at most
    ``MAX_CATEGORY_DEPTH`` levels, ties at one level going to the smaller id.

    Args:
        concept: a disease or group id.
        parents_of: child id -> parent ids (IS_A).
        tiers: concept id -> tier.
        names: concept id -> name.

    Returns:
        ``[(id, name, "group"), (id, name, "category")]``, either missing when none is found.
    """
    best: dict[Tier, str] = {}
    level, seen = [concept], {concept}
    for _ in range(MAX_CATEGORY_DEPTH):
        level = sorted({p for n in level for p in parents_of.get(n, ()) if p not in seen})
        if not level:
            break
        seen.update(level)
        for n in level:
            tier = tiers.get(n)
            if tier in (Tier.GROUP, Tier.CATEGORY) and tier not in best:
                best[tier] = n
    return [
        (best[t], names.get(best[t], best[t]), t.value) for t in (Tier.GROUP, Tier.CATEGORY) if t in best
    ]
