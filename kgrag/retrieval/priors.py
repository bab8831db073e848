"""Pretest probability.

A prior over the diseases of the diagnostic model, from what the knowledge base's own sources say
about how rare each disease is.

No shipped source gives a prevalence figure for most diseases (DDXPlus, MedQuAD and the
vocabularies carry none; Orphanet's prevalence file is not shipped), so the prior works
on **classes** read from documented membership:

- *rare evidence*: the disease has an Orphanet (``ORPHA:``) or OMIM (``OMIM:``/``MIM:``)
  code, or its Disease Ontology id is in DO's rare slim (``DO_rare_slim.obo``). Orphanet
  and OMIM catalogue rare and Mendelian diseases by definition.
- *common evidence*: the disease is a DDXPlus condition (``DDX:``; the 49 pathologies of a
  primary-care / emergency differential), it has a dedicated ICD-10-CM code (an exact
  match of the unified concept; most rare diseases share residual codes), or it is the
  focus of a consumer-health page from a general-health MedQuAD collection
  (``CONSUMER_SOURCES``; GARD, GHR and NINDS are left out, their pages are about rare
  disorders).

The classes are ``common`` (common evidence only), ``mixed`` (both: myasthenia gravis is
in DDXPlus and in Orphanet; type 1 diabetes has ICD-10-CM E10 and an OMIM entry),
``unclassified`` (neither) and ``rare`` (rare evidence only). A ``setting`` gives each
class a relative prior probability (``PRIOR_WEIGHTS``); the log prior is added to the
disease's summed log likelihood ratios, so the posterior is ``prior x likelihood``
renormalised.

Derivation of the weights (``general``: primary care / emergency). A rare disease is one
with a prevalence below 1 in 2,000 (EU definition; the US threshold of 200,000 patients is
about 1 in 1,650), and most Orphanet entities are far below it; the conditions a general
practitioner or an emergency department sees daily (pneumonia, acute coronary syndrome,
diabetes, asthma) have prevalences or yearly incidences of 1 in 10 to 1 in 1,000. So a
common condition is at least 10-fold and typically 100-fold more likely a priori than a
rare one: ``common`` 1, ``rare`` 1/100. ``mixed`` diseases (rare by the catalogues' bar
but seen in general settings) sit in between at 1/5; ``unclassified`` ones (mostly
disease groups and DO/MeSH terms without any mapping) at 1/20. ``rare`` (a genetics clinic
that sees patients referred for a suspected Mendelian disease) is today's ranking with
the common class discounted (1/10: common conditions are usually ruled out before
referral). ``uniform`` is no prior at all. The values are set by these orders of
magnitude, not fitted to cases; the clinical benchmark (``benchmarks/clinical.py``)
reports ``general`` against ``uniform``.
"""

from __future__ import annotations

import gzip
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Label

logger = logging.getLogger(__name__)

Setting = Literal["general", "rare", "uniform"]
SETTINGS: tuple[Setting, ...] = ("general", "rare", "uniform")

RARE_PREFIXES = ("ORPHA:", "OMIM:", "MIM:")
COMMON_PREFIXES = ("DDX:",)
ICD_PREFIX = "ICD10CM:"
RARE_SLIM_FILE = "disease_ontology/DO_rare_slim.obo.gz"
# MedQuAD collections (the part of a document's ``source`` after the last "/") whose
# pages are about conditions of the general public
CONSUMER_SOURCES = frozenset(
    {"NIDDK", "NHLBI", "CDC", "CancerGov", "NIHSeniorHealth", "MPlusHealthTopics"}
)


class PriorClass(StrEnum):
    """How common a disease is, for the pretest probability."""

    COMMON = "common"
    MIXED = "mixed"
    UNCLASSIFIED = "unclassified"
    RARE = "rare"


PRIOR_WEIGHTS: dict[Setting, dict[PriorClass, float]] = {
    "general": {
        PriorClass.COMMON: 1.0,
        PriorClass.MIXED: 0.2,
        PriorClass.UNCLASSIFIED: 0.05,
        PriorClass.RARE: 0.01,
    },
    "rare": {
        PriorClass.COMMON: 0.1,
        PriorClass.MIXED: 1.0,
        PriorClass.UNCLASSIFIED: 1.0,
        PriorClass.RARE: 1.0,
    },
    "uniform": {c: 1.0 for c in PriorClass},
}


class DiseasePrior(BaseModel):
    """One disease's prior class and the evidence for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    concept_id: str
    prior_class: PriorClass
    evidence: list[str] = Field(default_factory=list, description="e.g. 'ORPHA:589', 'DDX:...'")


def read_rare_slim(path: Path) -> frozenset[str]:
    """The DOIDs of Disease Ontology's rare slim (``id:`` lines of its OBO file).

    Args:
        path: ``DO_rare_slim.obo`` (gzip or plain).

    Returns:
        The ``DOID:...`` ids; empty when the file is missing (logged).
    """
    if not path.is_file():
        logger.warning("no DO rare slim at %s; rare evidence from codes only", path)
        return frozenset()
    opener = gzip.open if path.suffix == ".gz" else open
    pattern = re.compile(r"^id:\s*(DOID:\d+)")
    with opener(path, "rt", encoding="utf-8") as fh:
        return frozenset(m.group(1) for line in fh if (m := pattern.match(line)))


def classify(
    concept_id: str,
    codes: Iterable[str],
    *,
    rare_slim: frozenset[str] = frozenset(),
    consumer_focus: frozenset[str] = frozenset(),
) -> DiseasePrior:
    """The prior class of one disease from its codes and the sources that hold it.

    Args:
        concept_id: the unified concept id.
        codes: all codes of the concept (``node.codes``).
        rare_slim: DOIDs of DO's rare slim.
        consumer_focus: concept ids that are the focus of a general-health consumer page.

    Returns:
        The class with the codes/sources that decided it.
    """
    all_codes = list(dict.fromkeys([concept_id, *codes]))
    rare = [c for c in all_codes if c.startswith(RARE_PREFIXES) or c in rare_slim]
    common = [c for c in all_codes if c.startswith(COMMON_PREFIXES)]
    # a dedicated ICD-10-CM code (an exact match) is kept for conditions of general care:
    # common evidence; with rare evidence too the disease is ``mixed``
    common += [c for c in all_codes if c.startswith(ICD_PREFIX)][:1]
    if concept_id in consumer_focus:
        common.append("consumer-health focus")
    if common and rare:
        cls = PriorClass.MIXED
    elif common:
        cls = PriorClass.COMMON
    elif rare:
        cls = PriorClass.RARE
    else:
        cls = PriorClass.UNCLASSIFIED
    return DiseasePrior(concept_id=concept_id, prior_class=cls, evidence=(common + rare)[:4])


def consumer_focus(store: GraphStore) -> frozenset[str]:
    """Focus concepts of the store's documents from general-health consumer collections."""
    out = set()
    for doc in store.iter_nodes(Label.DOCUMENT):
        focus = doc.props.get("focus")
        collection = str(doc.props.get("source", "")).rpartition("/")[2]
        if focus and collection in CONSUMER_SOURCES:
            out.add(str(focus))
    return frozenset(out)


def disease_priors(
    diseases: Sequence[str], store: GraphStore, ontologies_dir: Path
) -> list[DiseasePrior]:
    """Classify every disease of the diagnostic model (one bulk read of their nodes).

    Args:
        diseases: the model's disease ids, in model order.
        store: the knowledge base (node codes, document focus).
        ontologies_dir: the shipped vocabularies (for DO's rare slim).

    Returns:
        One :class:`DiseasePrior` per disease, in the same order.
    """
    slim = read_rare_slim(ontologies_dir / RARE_SLIM_FILE)
    focus = consumer_focus(store)
    nodes = store.get_nodes(diseases)
    out = []
    for d in diseases:
        node = nodes.get(d)
        out.append(classify(d, node.codes if node else (), rare_slim=slim, consumer_focus=focus))
    return out


def log_prior(
    classes: Sequence[PriorClass],
    setting: Setting,
    weights: Mapping[Setting, Mapping[PriorClass, float]] | None = None,
) -> npt.NDArray[np.float64]:
    """Per disease, the log of its class's weight under ``setting`` (0 for ``uniform``)."""
    table = (weights or PRIOR_WEIGHTS)[setting]
    logs = {c: math.log(table[c]) for c in PriorClass}
    return np.fromiter((logs[c] for c in classes), np.float64, len(classes))
