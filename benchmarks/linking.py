"""Linking benchmark on the NCBI-disease and BC5CDR-disease development splits.

    python benchmarks/linking.py [--calibrate] [--no-dense] [--no-scispacy] [--limit N]

- Normalization (gold mentions, BioSyn protocol): Acc@1 / Acc@5 for kgrag's dictionary
  sieve, + fuzzy, + dense, and scispaCy's TF-IDF linker over the same vocabulary (concepts
  with a MeSH or OMIM code), each without and with the training-set dictionary. A
  prediction is right when it is the unified concept of any of the mention's gold ids.
- End to end: mention detection + linking precision/recall/F1 (exact span, right concept);
  with the training dictionary also with detection adapted to the training split (keys its
  annotators rarely marked are skipped).
- "+ aligned dense": the dictionary sieve, then the offline MiniLM self-aligned
  (``kgrag.linking.alignment``) on the vocabulary's synonyms and the training splits'
  mentions, instead of the fuzzy pass.
- Throughput in one process, kgrag and scispaCy side by side, and memory.
``--calibrate`` first fits the score calibration on the *training* splits (two halves,
dictionary from one, scored on the other) and writes kgrag/linking/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import kgrag  # noqa: E402
from kgrag.corpus.pubtator import PubtatorDocument, read_pubtator  # noqa: E402
from kgrag.linking.calibration import fit_logistic, save_calibration  # noqa: E402
from kgrag.linking.linker import ConceptLinker  # noqa: E402
from kgrag.linking.training import (  # noqa: E402
    add_training_dictionary,
    document_pairs,
    learn_detection,
    pubtator_pairs,
    single_concept,
)

TARGET = ("MESH", "OMIM")  # the vocabulary of the gold standard (MEDIC: MeSH + OMIM)


def rss_mb() -> float:
    """Current resident memory (Linux /proc), falling back to the peak elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gold_mentions(docs: list[PubtatorDocument], table) -> list[tuple[str, str, set[str]]]:  # type: ignore[no-untyped-def]
    out = []
    for doc in docs:
        for m in doc.mentions:
            if m.type != "Chemical" and m.ids:
                gold = {table.resolve(g) for g in m.ids} - {None}
                out.append((m.text, doc.text, gold))
    return out


def accuracy(normalize, mentions) -> dict[str, float]:  # type: ignore[no-untyped-def]
    hit1 = hit5 = 0
    started = time.perf_counter()
    for text, context, gold in mentions:
        ids = [c.concept_id for c in normalize(text, context)]
        hit1 += bool(ids[:1] and ids[0] in gold)
        hit5 += bool(gold & set(ids[:5]))
    secs = time.perf_counter() - started
    n = len(mentions)
    return {
        "acc@1": round(100 * hit1 / n, 2),
        "acc@5": round(100 * hit5 / n, 2),
        "mentions": n,
        "mentions_per_s": round(n / secs, 1),
    }


def end_to_end(linker: ConceptLinker, docs: list[PubtatorDocument], table) -> dict[str, float]:  # type: ignore[no-untyped-def]
    tp = fp = fn = span_tp = 0
    started = time.perf_counter()
    for doc in docs:
        gold = {}
        for m in doc.mentions:
            if m.type != "Chemical":
                gold[(m.start, m.end)] = {table.resolve(g) for g in m.ids} - {None}
        predicted = {(p.start, p.end): p.candidates[0].concept_id for p in linker.link(doc.text)}
        for span, concept in predicted.items():
            if span in gold:
                span_tp += 1
                if concept in gold[span]:
                    tp += 1
                    continue
            fp += 1
        fn += sum(1 for span, ids in gold.items() if not (span in predicted and predicted[span] in ids))
    secs = time.perf_counter() - started
    p = tp / max(1, tp + fp)
    r = tp / max(1, tp + fn)
    sp = span_tp / max(1, tp + fp)
    return {
        "precision": round(100 * p, 2),
        "recall": round(100 * r, 2),
        "f1": round(200 * p * r / max(1e-9, p + r), 2),
        "span_precision": round(100 * sp, 2),
        "docs_per_s": round(len(docs) / secs, 1),
    }


def calibrate(
    table,
    train_files: list[Path],
    prefixes: tuple[str, ...] | None,  # type: ignore[no-untyped-def]
    kinds: tuple[str, ...] | None,
) -> dict[str, list[float]]:
    docs = [d for f in train_files for d in read_pubtator(f)]
    halves = (docs[0::2], docs[1::2])
    samples: dict[str, tuple[list[list[float]], list[int]]] = defaultdict(lambda: ([], []))
    for dict_half, eval_half in (halves, halves[::-1]):
        current: list = []
        linker = ConceptLinker(
            table,
            kinds=kinds,
            prefixes=prefixes,
            on_candidate=lambda c, f, sink=current: sink.append((c.concept_id, f)),
        )
        pairs = [
            (m.text, m.ids) for d in dict_half for m in d.mentions if m.ids and m.type != "Chemical"
        ]
        add_training_dictionary(linker.dictionary, pairs)
        for text, context, gold in gold_mentions(eval_half, table):
            current.clear()
            linker.normalize(text, context)
            for concept, (method, raw, rank, n) in current:
                xs, ys = samples[method]
                import math

                xs.append([raw, rank, math.log(max(1, n))])
                ys.append(int(concept in gold))
    weights = {}
    for method, (xs, ys) in samples.items():
        if len(set(ys)) == 2 and len(ys) >= 30:
            weights[method] = fit_logistic(xs, ys)
            print(
                f"calibration {prefixes} {method}: {len(ys)} samples, {sum(ys)} right -> "
                f"{weights[method]}",
                file=sys.stderr,
            )
    return weights


def align(table, train_files: list[Path], cache: Path):  # type: ignore[no-untyped-def]
    """The offline MiniLM self-aligned on the MeSH/OMIM concepts' synonyms and the
    *training* splits' mentions (cached after the first run)."""
    from kgrag.index.encoders import SentenceTransformerEncoder
    from kgrag.linking.alignment import align_encoder, alignment_pairs
    from kgrag.linking.dictionary import DictionaryIndex

    dictionary = DictionaryIndex(table, prefixes=TARGET)
    pairs, n_mentions = alignment_pairs(dictionary, pubtator_pairs(train_files))
    report = align_encoder(
        pairs,
        cache / "aligned-minilm",
        progress=lambda step: print(step, file=sys.stderr),
    )
    print(f"alignment: {report.model_dump_json()}", file=sys.stderr)
    info = report.model_dump(exclude={"path", "digest"}) | {"mention_pairs": n_mentions}
    return SentenceTransformerEncoder(report.path), info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/linking.json")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--no-dense", action="store_true")
    ap.add_argument("--no-scispacy", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="first N dev documents only")
    args = ap.parse_args()
    s = args.shared
    corpora = {
        "ncbi_disease": (
            s / "ncbi_disease/NCBIdevelopset_corpus.txt",
            s / "ncbi_disease/NCBItrainset_corpus.txt",
        ),
        "bc5cdr_disease": (
            s / "bc5cdr/CDR_DevelopmentSet.PubTator.txt",
            s / "bc5cdr/CDR_TrainingSet.PubTator.txt",
        ),
    }
    table = kgrag.load_concepts()
    if args.calibrate:
        train_files = [train for _, train in corpora.values()]
        save_calibration(
            {
                "MESH+OMIM": calibrate(table, train_files, TARGET, None),
                "default": calibrate(table, train_files, None, ("disease", "finding")),
            },
            "NCBI-disease + BC5CDR training splits (2-fold)",
        )
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "protocol": "gold mentions; right if top-k holds the unified concept of any gold id; "
        "vocabulary = unified concepts with a MeSH or OMIM code",
    }
    encoder = aligned = None
    cache = kgrag.get_settings().cache_dir / "linking-bench"
    if not args.no_dense:
        from kgrag.index.encoders import SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder()
        aligned, results["alignment"] = align(table, [train for _, train in corpora.values()], cache)
    for corpus, (dev, train) in corpora.items():
        docs = list(read_pubtator(dev))[: args.limit or None]
        mentions = gold_mentions(docs, table)
        train_docs = list(read_pubtator(train))
        pairs = list(document_pairs(train_docs))
        rows: dict[str, object] = {}
        for use_train in (False, True):
            suffix = " + train dict" if use_train else ""
            before = rss_mb()
            t0 = time.perf_counter()
            linker = ConceptLinker(table, kinds=None, prefixes=TARGET, fuzzy=False)
            if use_train:
                add_training_dictionary(linker.dictionary, pairs)
            build = time.perf_counter() - t0
            rows["dictionary" + suffix] = accuracy(linker.normalize, mentions)
            linker._fuzzy_enabled = True
            _ = linker.fuzzy  # build before timing
            linker.fill = False
            rows["+ fuzzy, no fill-up" + suffix] = accuracy(linker.normalize, mentions)
            linker.fill = True
            rows["+ fuzzy" + suffix] = accuracy(linker.normalize, mentions)
            rows["+ fuzzy" + suffix]["build_s"] = round(build, 1)
            rows["+ fuzzy" + suffix]["rss_mb"] = round(rss_mb() - before)
            if encoder is not None:
                from kgrag.linking.dense import DenseMatcher

                t1 = time.perf_counter()
                linker.dense = DenseMatcher(linker.dictionary, encoder, cache_dir=cache)
                dense_build = time.perf_counter() - t1
                rows["+ fuzzy + dense" + suffix] = accuracy(linker.normalize, mentions)
                rows["+ fuzzy + dense" + suffix]["build_s"] = round(dense_build, 1)
                linker.dense = None
            if aligned is not None and use_train:
                from kgrag.linking.dense import DenseMatcher

                plain = ConceptLinker(table, kinds=None, prefixes=TARGET, fuzzy=False)
                add_training_dictionary(plain.dictionary, pairs)
                plain.dense = DenseMatcher(plain.dictionary, aligned, cache_dir=cache)
                plain.fill = False
                row_name = "+ aligned dense, no fuzzy, no fill-up" + suffix
                rows[row_name] = accuracy(plain.normalize, mentions)
                plain.fill = True
                rows["+ aligned dense, no fuzzy" + suffix] = accuracy(plain.normalize, mentions)
            rows["end to end" + suffix] = end_to_end(linker, docs, table)
            if use_train:
                learn_detection(linker, train_docs)
                rows["end to end + train dict + detection"] = end_to_end(linker, docs, table)
                rows["end to end + train dict + detection"]["rejected_keys"] = len(linker.rejected_keys)
            if not args.no_scispacy:
                from kgrag.linking.scispacy_adapter import ScispacyLinker

                extra: dict[int, list[str]] = defaultdict(list)
                if use_train:
                    for text, ids in pairs:
                        index = single_concept(table, ids)
                        if index is not None:
                            extra[index].append(text)
                before = rss_mb()
                sci = ScispacyLinker(linker.dictionary, extra_aliases=extra)
                row = accuracy(lambda m, c, s=sci: s.normalize(m), mentions)
                row["build_s"] = round(sci.build_seconds, 1)
                row["rss_mb"] = round(rss_mb() - before)
                row["index"] = sci.index_params
                rows["scispaCy TF-IDF linker" + suffix] = row
            print(json.dumps({corpus: rows}, indent=1), file=sys.stderr)
        results[corpus] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
