"""Tiers of the diagnostic hierarchy (category > group > disease > finding).

They are derived from the vocabularies' own hierarchies:

- findings: HPO phenotypic abnormalities, symptoms, MeSH signs and symptoms, ICD-10-CM
  chapter 18 (and DDXPlus antecedents as risk factors, tiered with findings);
- ICD-10-CM chapters are categories and its blocks groups;
- Disease Ontology: the root and its children are categories, the next level groups;
- MeSH: top-level tree headings (C04 Neoplasms) are categories, the next level groups;
- every other disease concept is a disease.
A concept that several vocabularies place gets the highest tier any of them gives.
"""

from __future__ import annotations

from collections import deque

from kgrag.graph.schema import Tier
from kgrag.ontology.curie import prefix_of
from kgrag.ontology.table import ConceptTable

_RANK = {Tier.CATEGORY: 0, Tier.GROUP: 1, Tier.DISEASE: 2}
# vocabulary -> (its root code, or None for "every concept without a parent in it";
#                max depth for category, max depth for group)
_DEPTH_TIERS: dict[str, tuple[str | None, int, int]] = {
    "DOID": ("DOID:4", 1, 2),
    "MESH": (None, 0, 1),  # MeSH tree headings (C04 Neoplasms) have no parent descriptor
}


def _depths(table: ConceptTable, vocabulary: str, root: str | None) -> dict[int, int]:
    """Shortest distance from the root(s) along one vocabulary's own is_a edges."""
    children: dict[int, list[int]] = {}
    has_parent: set[int] = set()
    members: set[int] = set()
    for child, row in enumerate(table.rows()):
        for parent, source in row.parents:
            if source == vocabulary:
                children.setdefault(parent, []).append(child)
                has_parent.add(child)
                members.update((parent, child))
    if root is None:
        depth = {i: 0 for i in members - has_parent}
    else:
        i = table.index_of(root)
        depth = {} if i is None else {i: 0}
    queue = deque(depth)
    while queue:
        node = queue.popleft()
        for child in children.get(node, ()):
            if child not in depth:
                depth[child] = depth[node] + 1
                queue.append(child)
    return depth


def assign_tiers(table: ConceptTable) -> list[Tier]:
    """The tier of every row of ``table``, in row order (see the module docstring for the rules)."""
    depths = {v: _depths(table, v, root) for v, (root, _, _) in _DEPTH_TIERS.items()}
    out: list[Tier] = []
    for i, row in enumerate(table.rows()):
        kind = row.kind
        if kind in ("finding", "risk_factor"):
            out.append(Tier.FINDING)
            continue
        if kind in ("modifier", "other"):
            out.append(Tier.OTHER)
            continue
        tiers = [Tier.CATEGORY if kind == "category" else Tier.DISEASE]
        for code in row.codes:
            if prefix_of(code) == "ICD10CM":
                local = code.partition(":")[2]
                if local.startswith("CH"):
                    tiers.append(Tier.CATEGORY)
                elif "-" in local:
                    tiers.append(Tier.GROUP)
        for vocab, (_root, cat_depth, group_depth) in _DEPTH_TIERS.items():
            d = depths[vocab].get(i)
            if d is not None and d <= cat_depth:
                tiers.append(Tier.CATEGORY)
            elif d is not None and d <= group_depth:
                tiers.append(Tier.GROUP)
        if kind == "category" and Tier.GROUP in tiers and Tier.CATEGORY not in tiers[1:]:
            tiers[0] = Tier.GROUP  # an ICD-10-CM block: kind "category", tier group
        out.append(min(tiers, key=_RANK.__getitem__))
    return out
