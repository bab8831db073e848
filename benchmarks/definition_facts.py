"""A random sample of the Disease Ontology definition facts, for hand labelling.

    python benchmarks/definition_facts.py [--n 50] [--seed 15]
                                          [--out benchmarks/out/definition_facts_sample.jsonl]

Needs the default knowledge base (``kgrag build``). Prints and writes ``n`` random facts of
the ``do_definitions`` source (disease, the finding's words in the definition, the linked
finding, the definition). ``benchmarks/out/definition_facts_labels.jsonl`` holds the hand
labels of the committed sample (``correct``: the definition states that the disease shows
that finding, and the linked concept is what the words mean).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/definition_facts_sample.jsonl")
    args = ap.parse_args()

    import kgrag
    from kgrag.config import get_settings
    from kgrag.graph.schema import EdgeType
    from kgrag.ontology.disease_ontology import load_definitions

    definitions = {c.id: c.definition for c in load_definitions(get_settings().ontologies_dir)}
    facts = []
    with kgrag.open_store() as store:
        names = {}
        for e in store.iter_edges([EdgeType.HAS_FINDING]):
            for c in e.claims:
                if c.source == "do_definitions":
                    facts.append((e.src, e.dst, c.reference, c.props.get("quote")))
        wanted = {x for f in facts for x in f[:2]}
        names = {k: n.name for k, n in store.get_nodes(wanted).items()}
    random.Random(args.seed).shuffle(facts)
    rows = [
        {
            "disease": names.get(s, s),
            "words": quote,
            "finding": names.get(t, t),
            "finding_id": t,
            "doid": ref,
            "definition": definitions.get(str(ref), ""),
        }
        for s, t, ref, quote in facts[: args.n]
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for i, r in enumerate(rows):
        print(f"{i:2d} {r['disease']} | {r['words']!r} -> {r['finding']} || {r['definition']}")
    print(f"{len(facts):,} facts in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
