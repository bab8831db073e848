"""Builders: nodes and edges of the diagnostic graph from each knowledge source.

Each builder yields :class:`~kgrag.graph.schema.Node` / :class:`~kgrag.graph.schema.Edge`
records whose claims name the builder's source, so a source can be replaced or removed
on its own (``GraphStore.delete_source``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier
from kgrag.ontology.ddxplus import DdxCondition, EvidenceFinding
from kgrag.ontology.disease_ontology import DiseaseSymptom
from kgrag.ontology.hpo import DiseasePhenotype
from kgrag.ontology.records import Warnings
from kgrag.ontology.table import ConceptTable

logger = logging.getLogger(__name__)


def concept_nodes(table: ConceptTable, tiers: Sequence[Tier], source: str) -> Iterator[Node]:
    """One Concept node per row of ``table``, with its tier from ``tiers`` (same order)."""
    for i, row in enumerate(table.rows()):
        yield Node(
            id=row.id,
            label=Label.CONCEPT,
            name=row.name,
            tier=tiers[i],
            kind=row.kind,
            codes=tuple(row.codes),
            sources=(source,),
        )


def hierarchy_edges(table: ConceptTable, source: str) -> Iterator[Edge]:
    """IS_A child -> parent, one claim per vocabulary that asserts the edge."""
    ids = [row.id for row in table.rows()]
    for i, row in enumerate(table.rows()):
        by_parent: dict[int, list[str]] = {}
        for j, vocabulary in row.parents:
            by_parent.setdefault(j, []).append(vocabulary)
        for j, vocabularies in by_parent.items():
            yield Edge(
                src=ids[i],
                type=EdgeType.IS_A,
                dst=ids[j],
                claims=tuple(Claim(source=source, reference=v) for v in vocabularies),
            )


def hpoa_edges(
    annotations: Sequence[DiseasePhenotype], table: ConceptTable, source: str, warnings: Warnings
) -> Iterator[Edge]:
    """HAS_FINDING from HPO annotations (aspect P), frequency kept.

    One edge per disease and phenotype, with one claim per annotation.

    A claim's ``polarity`` is ``not_shown`` when the annotation is negated (NOT) or its
    frequency is 0 ("0/7"), else ``present``; the edge is ``present`` when any claim is.
    """
    grouped: dict[tuple[str, str], list[Claim]] = {}
    for a in annotations:
        if a.aspect != "P":
            continue
        disease, finding = table.resolve(a.disease_id), table.resolve(a.phenotype_id)
        if disease is None or finding is None:
            warnings.add(
                "annotation with an unknown disease or phenotype", f"{a.disease_id} {a.phenotype_id}"
            )
            continue
        props: dict[str, object] = {
            "polarity": "not_shown" if a.negated or a.frequency == 0 else "present",
            "evidence": a.evidence,
        }
        if a.frequency is not None:
            props["frequency"] = a.frequency
        if a.onset:
            props["onset"] = a.onset
        claim = Claim(source=source, reference=a.reference or a.disease_id, props=props)
        grouped.setdefault((disease, finding), []).append(claim)
    for (disease, finding), claims in grouped.items():
        shown = any(c.props["polarity"] == "present" for c in claims)
        yield Edge(
            src=disease,
            type=EdgeType.HAS_FINDING,
            dst=finding,
            props={"polarity": "present" if shown else "not_shown"},
            claims=tuple(claims),
        )


def ddxplus_edges(
    conditions: Sequence[DdxCondition], table: ConceptTable, source: str
) -> Iterator[Edge]:
    """DDXPlus: condition -> symptoms (HAS_FINDING) and antecedents (HAS_RISK_FACTOR)."""
    for c in conditions:
        disease = table.resolve(c.id)
        if disease is None:
            continue
        for typ, targets in (
            (EdgeType.HAS_FINDING, c.symptoms),
            (EdgeType.HAS_RISK_FACTOR, c.antecedents),
        ):
            for t in targets:
                target = table.resolve(t)
                if target is not None:
                    yield Edge(
                        src=disease,
                        type=typ,
                        dst=target,
                        props={"polarity": "present"},
                        claims=(Claim(source=source, reference=c.id, props={"severity": c.severity}),),
                    )


def ddxplus_finding_edges(
    conditions: Sequence[DdxCondition],
    mapping: Sequence[EvidenceFinding],
    table: ConceptTable,
    source: str,
) -> Iterator[Edge]:
    """DDXPlus conditions joined to the shared finding layer.

    Each condition's evidences (its own symptom and antecedent lists) through the curated mapping
    (``ontologies/ddxplus/evidence_findings.tsv``) to HPO/UMLS-style findings (HAS_FINDING) and risk
    factors (HAS_RISK_FACTOR). Rows for one answer value and family-history rows are not the
    condition's own findings and are skipped.

    Args:
        conditions: the DDXPlus conditions (``load_ddxplus(...).extras["conditions"]``).
        mapping: the reviewed evidence rows (``load_evidence_findings``).
        table: resolves mapped codes to unified concepts.
        source: provenance name of the claims.

    Yields:
        One edge per (condition, mapped concept); its claim cites the evidence id and
        carries the mapping relation.
    """
    by_evidence: dict[str, list[EvidenceFinding]] = {}
    for row in mapping:
        if not row.value and row.codes and row.subject != "family":
            by_evidence.setdefault(f"DDXE:{row.evidence}", []).append(row)
    for c in conditions:
        disease = table.resolve(c.id)
        if disease is None:
            continue
        seen: set[tuple[EdgeType, str]] = set()
        for typ, evidences in (
            (EdgeType.HAS_FINDING, c.symptoms),
            (EdgeType.HAS_RISK_FACTOR, c.antecedents),
        ):
            for ev in evidences:
                for row in by_evidence.get(ev, ()):
                    # a symptom-listed antecedent (e.g. E_16 anxiety) stays with its list
                    for code in row.codes:
                        target = table.resolve(code)
                        if target is None or target == disease or (typ, target) in seen:
                            continue
                        seen.add((typ, target))
                        yield Edge(
                            src=disease,
                            type=typ,
                            dst=target,
                            props={"polarity": "present"},
                            claims=(
                                Claim(
                                    source=source,
                                    reference=f"{c.id} {row.evidence}",
                                    props={"relation": row.relation, "evidence": row.evidence},
                                ),
                            ),
                        )


def disease_symptom_edges(
    pairs: Sequence[DiseaseSymptom], table: ConceptTable, source: str
) -> Iterator[Edge]:
    """HAS_FINDING edges from Disease Ontology disease -> symptom pairs that ``table`` can resolve."""
    for p in pairs:
        disease, symptom = table.resolve(p.disease_id), table.resolve(p.symptom_id)
        if disease is not None and symptom is not None:
            yield Edge(
                src=disease,
                type=EdgeType.HAS_FINDING,
                dst=symptom,
                props={"polarity": "present"},
                claims=(Claim(source=source, reference=p.disease_id),),
            )
