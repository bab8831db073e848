"""The embed stage (#25, item 5): per-part embeddings, and the passage index built from them.

A real build of a small real corpus (MedQuAD pages and the reader fixtures) over the fixture
vocabularies, with the real offline MiniLM (marker ``model``): every part gets an embeddings
file whose vectors are the encoder's; the passage index built from those files equals the one
built by encoding the store's chunks (same ids, vectors allclose, same search results); a
missing or damaged embeddings file is made again or encoded around; vectors are reused by text
hash; the hashing encoder skips the stage; the Ray engine's embed actor pool writes the same
files (skipped without Ray).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_build_shards import MEDQUAD, Lines

from kgrag.config import Settings
from kgrag.graph.schema import Label
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.index.base import Encoder
from kgrag.index.encoders import OFFLINE_MINILM
from kgrag.index.part_embeddings import (
    embedding_files,
    embeddings_path,
    load_known,
    read_embeddings,
    text_sha256,
    write_embeddings,
)
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.context import BuildOptions
from kgrag.pipeline.embed_stage import EmbedWorker, recorded_name, stage_encoder
from kgrag.pipeline.parts import is_part, read_part
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec
from kgrag.retrieval.artifacts import artifacts_dir, build_artifacts
from kgrag.retrieval.passages import PassageIndex, encoder_by_name

QUERIES = [
    "shortness of breath when lying down",
    "high blood pressure in the lungs",
    "chest pain and fatigue",
    "treatment of anemia",
    "swelling in the legs and ankles",
]


def recipe(base: Path, encoder: str) -> Recipe:
    return Recipe(
        name="embed",
        encoder=encoder,
        base_dir=base,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="notes", path="corpus", max_chars=100_000),
        ],
    )


def make_corpus(fixtures: Path, root: Path, pages: int = 6) -> Path:
    folder = root / "corpus"
    shutil.copytree(fixtures / "docs", folder, ignore=shutil.ignore_patterns("README.md"))
    for page in sorted(MEDQUAD.glob("*.xml.gz"))[:pages]:
        shutil.copy(page, folder / page.name)
    (folder / "z_copy.md").write_bytes((folder / "note.md").read_bytes())  # a repeated text
    return folder


def build(
    table: ConceptTable,
    settings: Settings,
    base: Path,
    kb: Path,
    encoder: str,
    *,
    engine: str = "local",
    progress: Lines | None = None,
) -> None:
    with SqliteGraphStore(kb) as store:
        options = BuildOptions(engine=engine, workers=2 if engine == "ray" else 1, shard_docs=3)
        report = Builder(
            recipe(base, encoder),
            store,
            table=table,
            settings=settings,
            progress=progress,
            options=options,
        ).run()
    assert report.status == "complete", report


def parts_of(kb: Path) -> list[Path]:
    parts = sorted(p for p in (kb / "parts" / "notes").iterdir() if is_part(p))
    assert len(parts) >= 3, parts  # the test cannot pass on one part
    return parts


def test_recorded_names_match_the_encoders() -> None:
    for name in ("hashing", "kgrag.HashingEncoder.v1-64"):
        assert recorded_name(name) == encoder_by_name(name).name
        assert stage_encoder(name) is None  # the hashing encoder skips the stage
    assert stage_encoder(OFFLINE_MINILM) == OFFLINE_MINILM
    assert recorded_name(OFFLINE_MINILM) == f"sentence-transformers:{OFFLINE_MINILM}"


def test_embeddings_files_round_trip_and_refuse_another_encoder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for n, dim in ((0, 8), (1, 3), (57, 384)):
        vectors = rng.normal(size=(n, dim)).astype(np.float32)
        chunks = [f"chunk:{i}" for i in range(n)]
        shas = [text_sha256(f"text {i}") for i in range(n)]
        path = write_embeddings(tmp_path / f"e{n}.parquet", chunks, shas, vectors, "enc-A")
        got = read_embeddings(path, "enc-A", dim)
        assert got[0] == chunks and got[1] == shas and np.array_equal(got[2], vectors)
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
        with pytest.raises(Exception, match="enc-B"):
            read_embeddings(path, "enc-B")
        assert load_known([path], "enc-B", dim) == {}
        assert load_known([path], "enc-A", dim + 1) == {}
    path.write_bytes(path.read_bytes()[:100])  # damaged: skipped, not a crash
    assert load_known([path], "enc-A", 384) == {}


def test_the_hashing_encoder_skips_the_stage(
    small_table: ConceptTable, default_settings: Settings, fixtures: Path, tmp_path: Path
) -> None:
    make_corpus(fixtures, tmp_path, pages=3)
    build(small_table, default_settings, tmp_path, tmp_path / "kb", "hashing")
    assert embedding_files(parts_of(tmp_path / "kb")) == []


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    """The offline MiniLM, loaded once for the module."""
    pytest.importorskip("sentence_transformers")
    return encoder_by_name(OFFLINE_MINILM)


@pytest.fixture(scope="module")
def minilm_build(
    small_table: ConceptTable,
    default_settings: Settings,
    fixtures: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A local build with the offline MiniLM: parts with embeddings, and its artifacts."""
    pytest.importorskip("sentence_transformers")
    root = tmp_path_factory.mktemp("embed")
    make_corpus(fixtures, root)
    lines = Lines()
    build(small_table, default_settings, root, root / "kb", OFFLINE_MINILM, progress=lines)
    assert any(ln.startswith("passages: ") and "from the parts" in ln for ln in lines.lines), lines.lines
    assert not any(ln.startswith("passages: embedding") for ln in lines.lines), lines.lines
    return root


@pytest.mark.model
def test_every_part_holds_its_chunks_vectors(minilm_build: Path, minilm: Encoder) -> None:
    encoder = minilm
    for part in parts_of(minilm_build / "kb"):
        path = embeddings_path(part, encoder.name)
        assert path.is_file()
        chunks = [r for r in read_part(part, "nodes") if r["label"] == Label.CHUNK.value]
        ids, shas, vectors = read_embeddings(path, encoder.name, encoder.dim)
        assert ids == [r["id"] for r in chunks]
        texts = [json.loads(r["props"])["text"] for r in chunks]
        assert shas == [text_sha256(t) for t in texts]
        if texts:
            assert np.allclose(vectors, encoder.encode_documents(texts), atol=1e-5)


@pytest.mark.model
def test_the_index_from_part_embeddings_equals_the_encoded_one(
    minilm_build: Path, minilm: Encoder
) -> None:
    encoder = minilm
    kb = minilm_build / "kb"
    with SqliteGraphStore(kb) as store:
        from_parts = PassageIndex.load(artifacts_dir(store), encoder)
        encoded = PassageIndex.build(store, encoder, kind="flat")  # the old way: encode every chunk
    assert from_parts.chunk_ids == encoded.chunk_ids and len(encoded) > 50
    saved = np.load(kb / "retrieval" / "passages.embeddings.npz")["vectors"]
    assert encoded.embeddings is not None
    assert np.allclose(saved, encoded.embeddings[1], atol=1e-5)
    for query in QUERIES:
        a, b = from_parts.search(query, k=10), encoded.search(query, k=10)
        assert [c for c, _ in a] == [c for c, _ in b], query
        assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)


@pytest.mark.model
def test_a_missing_or_damaged_embeddings_file(
    minilm_build: Path, minilm: Encoder, tmp_path: Path
) -> None:
    """Missing: the stage makes it again (that part only). Damaged: the index encodes around it."""
    root = tmp_path / "copy"
    shutil.copytree(minilm_build, root)
    kb = root / "kb"
    encoder = minilm
    parts = parts_of(kb)
    files = [embeddings_path(p, encoder.name) for p in parts]
    before = [read_embeddings(f, encoder.name) for f in files]
    files[1].unlink()
    assert is_part(parts[1])  # an embeddings file is not part of a part
    worker = EmbedWorker(OFFLINE_MINILM, kb / "parts" / "notes")
    made = [worker.run(p)[1] for p in parts]
    assert made == [i == 1 for i in range(len(parts))]
    again = read_embeddings(files[1], encoder.name)
    assert again[:2] == before[1][:2] and np.allclose(again[2], before[1][2], atol=1e-5)
    # damaged: truncated; the artifacts build encodes that part's chunks and agrees
    files[2].write_bytes(files[2].read_bytes()[:200])
    lines = Lines()
    with SqliteGraphStore(kb) as store:
        shutil.rmtree(artifacts_dir(store))
        build_artifacts(
            store,
            fingerprint="fp",
            encoder=OFFLINE_MINILM,
            progress=lines,
            part_embeddings=embedding_files(parts),
        )
        rebuilt = PassageIndex.load(artifacts_dir(store), encoder)
        reference = PassageIndex.build(store, encoder, kind="flat")
    assert any(ln.startswith("passages: embedding") for ln in lines.lines)
    for query in QUERIES:
        assert [c for c, _ in rebuilt.search(query)] == [c for c, _ in reference.search(query)]


@pytest.mark.model
def test_vectors_are_reused_by_text_hash(minilm_build: Path, minilm: Encoder, tmp_path: Path) -> None:
    """A part whose chunk texts another part holds (an edited shard) encodes only new texts."""
    root = tmp_path / "copy"
    shutil.copytree(minilm_build, root)
    folder = root / "kb" / "parts" / "notes"
    encoder = minilm
    donor = max(
        parts_of(root / "kb"),
        key=lambda p: len(read_embeddings(embeddings_path(p, encoder.name), encoder.name)[0]),
    )
    clone = folder / ("f" * 64)
    shutil.copytree(donor, clone)
    embeddings_path(clone, encoder.name).unlink()
    worker = EmbedWorker(OFFLINE_MINILM, folder)
    assert worker.run(clone)[1]
    n = len(read_embeddings(embeddings_path(donor, encoder.name), encoder.name)[0])
    assert worker.encoded == 0 and worker.reused == n > 0 and worker._encoder is None
    a = read_embeddings(embeddings_path(clone, encoder.name), encoder.name)
    b = read_embeddings(embeddings_path(donor, encoder.name), encoder.name)
    assert a[0] == b[0] and np.array_equal(a[2], b[2])


@pytest.mark.model
def test_the_ray_engine_writes_the_same_embeddings(
    small_table: ConceptTable, default_settings: Settings, minilm_build: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'kgrag[scale]')")
    shutil.copytree(minilm_build / "corpus", tmp_path / "corpus")
    build(small_table, default_settings, tmp_path, tmp_path / "kb", OFFLINE_MINILM, engine="ray")
    name = recorded_name(OFFLINE_MINILM)
    local = {p.name: p for p in parts_of(minilm_build / "kb")}
    for part in parts_of(tmp_path / "kb"):
        a = read_embeddings(embeddings_path(part, name), name)
        b = read_embeddings(embeddings_path(local[part.name], name), name)
        assert a[:2] == b[:2] and np.allclose(a[2], b[2], atol=1e-5)


@pytest.mark.model
def test_vectors_are_reused_from_the_previous_builds_saved_embeddings(
    minilm_build: Path, minilm: Encoder, tmp_path: Path
) -> None:
    """Parts without embeddings files (a build from before this stage) reuse the previous
    passage index's saved vectors: nothing is encoded; a damaged saved file is not used."""
    root = tmp_path / "copy"
    shutil.copytree(minilm_build, root)
    kb = root / "kb"
    parts = parts_of(kb)
    files = [embeddings_path(p, minilm.name) for p in parts]
    before = [read_embeddings(f, minilm.name) for f in files]
    for f in files:
        f.unlink()
    saved = kb / "retrieval" / "passages.embeddings.npz"
    worker = EmbedWorker(OFFLINE_MINILM, kb / "parts" / "notes", saved=saved)
    assert all(worker.run(p)[1] for p in parts)
    assert worker.encoded == 0 and worker._encoder is None
    for f, b in zip(files, before, strict=True):
        a = read_embeddings(f, minilm.name)
        assert a[:2] == b[:2] and np.allclose(a[2], b[2], atol=1e-5)
    # the build's own check: a saved file the manifest does not vouch for is not offered
    from kgrag.pipeline.context import BuildContext
    from kgrag.pipeline.embed_stage import saved_embeddings

    with SqliteGraphStore(kb) as store:
        ctx = BuildContext(
            recipe(root, OFFLINE_MINILM), store, None, Settings(cache_dir=tmp_path), print
        )  # type: ignore[arg-type]
        assert saved_embeddings(ctx) == saved
        raw = bytearray(saved.read_bytes())
        raw[len(raw) // 2] ^= 0x5A
        saved.write_bytes(bytes(raw))
        assert saved_embeddings(ctx) is None
