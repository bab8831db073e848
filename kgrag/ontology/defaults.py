"""The embedded default: which shipped vocabularies are loaded, in which order."""

from __future__ import annotations

import logging
from pathlib import Path

from kgrag.ontology.ddxplus import load_ddxplus
from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology
from kgrag.ontology.hpo import load_hpo, load_hpoa
from kgrag.ontology.icd10cm import load_icd10cm
from kgrag.ontology.manifest import Manifest
from kgrag.ontology.mesh import MeshFiles, load_mesh
from kgrag.ontology.records import LoadResult
from kgrag.ontology.sssom import load_sssom
from kgrag.progress import Progress
from kgrag.types import SourceInfo

logger = logging.getLogger(__name__)


def _with_manifest(result: LoadResult, manifest: Manifest, name: str) -> LoadResult:
    entry = manifest.source(name)
    result.info = SourceInfo(
        name=result.info.name,
        version=entry.version,
        license=entry.license,
        attribution=entry.attribution,
        files=tuple(f.path for f in entry.files),
        sha256=tuple(f.sha256 for f in entry.files),
    )
    return result


def load_default_sources(
    directory: Path, manifest: Manifest, progress: Progress | None = None
) -> list[LoadResult]:
    """Load every default vocabulary. The order sets which source names a shared id."""
    say = progress or (lambda step: logger.info("loading %s", step))
    d = directory
    results: list[LoadResult] = []

    say("HPO")
    results.append(_with_manifest(load_hpo(d / "hpo/hp.obo.gz"), manifest, "HP"))
    say("Disease Ontology")
    do = load_disease_ontology(
        DoFiles(
            human_do=d / "disease_ontology/HumanDO.tsv.gz",
            xrefs=d / "disease_ontology/allXREFinDO.tsv.gz",
            definitions=d / "disease_ontology/facets_id_name_definition.tsv.gz",
            disease_symptom=d / "disease_ontology/disease-symptom.tsv.gz",
            obo_files=tuple(
                d / "disease_ontology" / n
                for n in (
                    "DO_rare_slim.obo.gz",
                    "DO_cancer_slim.obo.gz",
                    "DO_infectious_disease_slim.obo.gz",
                    "DO_CFDE_slim.obo.gz",
                    "doid_2016-09-01.obo.gz",
                )
            ),
        ),
        version=manifest.source("DOID").version,
    )
    results.append(_with_manifest(do, manifest, "DOID"))
    say("MONDO mappings")
    mondo = load_sssom(
        sorted((d / "mondo").glob("mondo_exactmatch_*.sssom.tsv.gz")),
        version=manifest.source("MONDO").version,
        subclass_edges=d / "mondo/mondo-rare_edges.tsv.gz",
    )
    results.append(_with_manifest(mondo, manifest, "MONDO"))
    say("MeSH")
    mesh = load_mesh(
        MeshFiles(
            descriptors=d / "mesh/mesh_desc_C_F03.tsv.gz",
            supplementary=d / "mesh/mesh_scr_disease.tsv.gz",
            all_concept_terms=d / "mesh/mesh2022_thesaurus_C_F03_terms.tsv.gz",
            terms_2015=d / "mesh/mesh2015_terms.tsv.gz",
            trees_2015=d / "mesh/mesh2015_tree-numbers.tsv.gz",
        )
    )
    results.append(_with_manifest(mesh, manifest, "MESH"))
    say("ICD-10-CM")
    icd = load_icd10cm()
    results.append(icd)
    say("HPO annotations")
    results.append(_with_manifest(load_hpoa(d / "hpo/phenotype.hpoa.gz").diseases, manifest, "HPOA"))
    say("DDXPlus")
    icd_codes = {c.id.partition(":")[2] for c in icd.concepts}
    ddx = load_ddxplus(
        d / "ddxplus/release_conditions.json.gz",
        d / "ddxplus/release_evidences.json.gz",
        d / "ddxplus/icd10_corrections.json",
        icd10cm_codes=icd_codes,
    )
    results.append(_with_manifest(ddx, manifest, "DDX"))
    return results
