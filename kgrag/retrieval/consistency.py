"""Readers that never answer from half a rebuild.

Every build (``kgrag build``) first bumps the store's ``generation`` counter and sets
``status = building``, and sets ``status = complete`` only once every source and the
retrieval artifacts are written. A request reads that stamp before and after it runs (a
sequence lock): if the knowledge base was not complete, or the stamp moved while the
request read the graph, the answer is withheld with :class:`KnowledgeBaseRebuilding`
instead of mixing two versions (e.g. an old ranking with citations whose chunks the new
build has deleted). The check costs a few meta reads per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from kgrag.errors import KnowledgeBaseRebuilding, RetrievalNotBuilt
from kgrag.graph.base import GraphStore
from kgrag.retrieval.artifacts import META_KEY

GENERATION_KEY = "generation"
STATUS_KEY = "status"

_BUILDING = (
    "the knowledge base is being built (status {status!r}: a build is running, or one was "
    "interrupted and `kgrag build` resumes it); retry when the build finishes"
)


class Stamp(NamedTuple):
    """What a build changes first and last: build status, generation, artifact fingerprint."""

    status: str | None
    generation: str | None
    retrieval: str | None


def read_stamp(store: GraphStore) -> Stamp:
    """The store's build status, generation and artifacts fingerprint as a :class:`Stamp`."""
    return Stamp(store.get_meta(STATUS_KEY), store.get_meta(GENERATION_KEY), store.get_meta(META_KEY))


def check_stamp(stamp: Stamp, fingerprint: str) -> None:
    """Refuse a knowledge base that is not complete, or whose artifacts are not the ones loaded.

    ``fingerprint`` is the loaded diagnostic model's.

    Raises:
        KnowledgeBaseRebuilding: a build is running or was interrupted, or one finished
            since the artifacts were loaded.
        RetrievalNotBuilt: the last build failed before its artifacts were made.
    """
    if stamp.status not in (None, "complete"):
        if stamp.status == "incomplete":
            raise RetrievalNotBuilt(
                "the last build of the knowledge base failed part-way (status 'incomplete'); "
                "rerun `kgrag build` to finish it"
            )
        raise KnowledgeBaseRebuilding(_BUILDING.format(status=stamp.status))
    if stamp.retrieval != fingerprint:
        raise KnowledgeBaseRebuilding(
            "the knowledge base was rebuilt since it was opened; open it again "
            f"(loaded {fingerprint!r}, the graph now says {stamp.retrieval!r})",
            reopen=True,
        )


@contextmanager
def consistent_read(store: GraphStore, fingerprint: str) -> Iterator[Stamp]:
    """Run a request against one version of the knowledge base, or raise.

    Args:
        store: the graph the request reads.
        fingerprint: the fingerprint of the retrieval artifacts the reader loaded.

    Yields:
        The stamp read before the request.

    Raises:
        KnowledgeBaseRebuilding: the knowledge base was not complete, or a build started
            or finished while the request ran (also when the request itself failed then).
    """
    before = read_stamp(store)
    check_stamp(before, fingerprint)
    try:
        yield before
    except Exception as e:
        if read_stamp(store) != before:
            raise KnowledgeBaseRebuilding(
                f"the knowledge base changed while answering ({type(e).__name__}: {e}); "
                "retry when the build finishes"
            ) from e
        raise
    after = read_stamp(store)
    if after != before:
        raise KnowledgeBaseRebuilding(
            "the knowledge base changed while answering (a build started or finished); "
            + ("retry when the build finishes" if after.status != "complete" else "open it again"),
            reopen=after.status == "complete",
        )
