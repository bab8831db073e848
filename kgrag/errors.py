"""kgrag's errors: one root, each message saying what to do next.

The tree::

    KgragError
    ├── ConfigError(ValueError)            bad settings or config file
    │   └── RecipePathRefused              a recipe path outside the allowed folders
    ├── MissingExtraError(ImportError)     an optional dependency is not installed
    ├── OntologyError
    │   ├── OntologyFormatError(ValueError)   a source file is malformed (file and line)
    │   ├── OntologySourceMissing(FileNotFoundError)  a source file is not where expected
    │   └── ChecksumMismatch               a shipped file differs from its manifest
    ├── CorpusFormatError(ValueError)      a corpus file is malformed (file and line)
    │   └── DocumentTooLarge               over the per-document size limit
    ├── InvalidRequest(ValueError)         a request is malformed, breaks a limit or names
    │   │                                  nothing usable (wrong argument types, top_k < 1)
    │   ├── InputTooLarge                  a text is larger than one call accepts
    │   └── InvalidSpan                    a target span outside its text
    ├── IndexMismatch(ValueError)          a vector index was built with another encoder/dim
    ├── GraphError                         a graph store failed
    │   ├── GraphUnavailable(ConnectionError)  server down or frozen (timeout), wrong
    │   │                                  credentials, no such store
    │   ├── GraphReadError                 a read failed (corrupt file, refused query)
    │   ├── GraphWriteError                a write failed (disk full, lost connection)
    │   ├── BuildLocked                    another build holds the knowledge base's lock
    │   └── PartDamaged                    a shard's part (build checkpoint) cannot be read
    ├── BuildInterrupted                   a shard worker process died mid-build (rerun resumes)
    ├── ConceptNotFound(KeyError)          no concept has that code or id
    ├── RetrievalError                     diagnosis/retrieval cannot answer
    │   ├── NoUsableFindings(ValueError)   nothing in the input to rank diseases by
    │   ├── RetrievalNotBuilt              the knowledge base lacks retrieval artifacts
    │   ├── ArtifactDamaged                an artifact is missing, truncated, altered or
    │   │                                  from another build (its manifest says so)
    │   ├── KnowledgeBaseRebuilding        a build changed the knowledge base mid-request
    │   └── RequestTimeout(TimeoutError)   a request ran past the service's timeout
    ├── LLMError                           an LLM backend failed (generate falls back)
    │   ├── LLMUnavailable(ConnectionError)  server down, model file missing, HTTP error
    │   ├── LLMTimeout(TimeoutError)       no answer within the time limit
    │   ├── AnswerInvalid(ValueError)      a reply that is not JSON of the required shape
    │   └── LLMNotConfigured               a grounded answer asked of a server without an LLM
    ├── DocumentNotFound(KeyError)         no stored document has that id
    ├── NotReady                           the sidecar's knowledge base is still loading
    └── ApiError                           a sidecar route answers with an HTTP status

Errors that double as builtins can be caught either way
(``except KeyError`` catches :class:`ConceptNotFound`).
"""

from __future__ import annotations

from pathlib import Path


class KgragError(Exception):
    """Root of every error kgrag raises on purpose.

    Examples:
        >>> import kgrag
        >>> try:
        ...     kgrag.diagnose(findings="HP:0001250")
        ... except kgrag.KgragError as e:
        ...     print(type(e).__name__)
        InvalidRequest
    """


class ConfigError(KgragError, ValueError):
    """A setting or config file is invalid."""


class MissingExtraError(KgragError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package. Install it with: pip install \"kgrag[{extra}]\" "
            f'(from a checkout: pip install -e ".[{extra}]")'
        )


class OntologyError(KgragError):
    """Base for problems with vocabulary sources."""


class OntologyFormatError(OntologyError, ValueError):
    """A vocabulary file is malformed. Carries the file and the 1-based line number."""

    def __init__(
        self, path: str | Path, line: int | None, message: str, *, kind: str = "unreadable"
    ) -> None:
        self.path = str(path)
        self.line = line
        self.kind = kind  # how a corpus build reports it: unreadable, no answers, ...
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class OntologySourceMissing(OntologyError, FileNotFoundError):
    """A vocabulary source file does not exist."""

    def __init__(self, path: str | Path, hint: str = "") -> None:
        self.path = str(path)
        msg = f"vocabulary source not found: {self.path}"
        super().__init__(f"{msg}. {hint}" if hint else msg)


class ChecksumMismatch(OntologyError):
    """A shipped vocabulary file does not match the checksum in its manifest."""

    def __init__(self, path: str | Path, expected: str, actual: str) -> None:
        self.path = str(path)
        super().__init__(
            f"{self.path}: sha256 {actual[:12]}… does not match the manifest's {expected[:12]}…. "
            "Restore the file from the repository, or run `python -m kgrag.ontology.manifest "
            "--update` if you replaced it on purpose."
        )


class CorpusFormatError(KgragError, ValueError):
    """A corpus file (PubTator, JSONL, ...) is malformed. Carries the file and line."""

    def __init__(
        self, path: str | Path, line: int | None, message: str, *, kind: str = "unreadable"
    ) -> None:
        self.path = str(path)
        self.line = line
        self.kind = kind  # how a corpus build reports it: unreadable, no answers, ...
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class InvalidRequest(KgragError, ValueError):
    """A request is malformed or breaks a limit.

    A public function (``kgrag.diagnose``, ``kgrag.link``, ...) got arguments of the wrong type or
    value, too many findings, ``top_k < 1``, ... The message names the argument or limit and what is
    expected; fix the request and send it again.

    Examples:
        >>> import kgrag
        >>> try:
        ...     kgrag.diagnose(findings=["HP:0001250"], top_k=0)
        ... except InvalidRequest as e:
        ...     print(e)
        invalid request: top_k: Input should be greater than or equal to 1 (got 0)
    """


class InputTooLarge(InvalidRequest):
    """A text is larger than the linker accepts in one call; split it or raise the limit."""


class InvalidSpan(InvalidRequest):
    """A target span does not lie inside its text (``0 <= start < end <= len(text)``)."""


class IndexMismatch(KgragError, ValueError):
    """A vector index was built with another encoder or dimension than the one in use.

    Rebuilding the index (``kgrag build``) with the current encoder repairs it.
    """


class GraphError(KgragError):
    """Base for graph store failures."""


class GraphUnavailable(GraphError, ConnectionError):
    """The graph store cannot be reached or opened; the message says what to check."""


class GraphReadError(GraphError):
    """A read from the graph failed (a corrupt database file, a query the server refused).

    The message names the store; ``kgrag build --rebuild`` repairs a corrupt embedded store.
    """


class GraphWriteError(GraphError):
    """A write to the graph failed part-way; rerunning the build resumes and repairs."""


class ConceptNotFound(KgragError, KeyError):
    """No unified concept has this id or code.

    Examples:
        >>> str(ConceptNotFound("HP:0"))[:33]
        "no concept with id or code 'HP:0'"
    """

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"no concept with id or code {code!r}; search names with "
            f"`kgrag concepts search` or check the prefix (e.g. HP:, DOID:, MESH:, OMIM:)"
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class RetrievalError(KgragError):
    """Base for problems answering a retrieval or diagnosis request."""


class NoUsableFindings(RetrievalError, ValueError):
    """The input names no finding the knowledge base knows (or only absent ones)."""


class RetrievalNotBuilt(RetrievalError):
    """The knowledge base has no (or stale) retrieval artifacts; ``kgrag build`` makes them."""


class ArtifactDamaged(RetrievalError):
    """An artifact of the knowledge base does not match the manifest its build wrote.

    Missing, truncated, altered (bytes changed), of the wrong kind, or a copy from another build.
    The message names the file and what is wrong with it; ``kgrag build`` remakes the artifacts
    (the graph is kept). Carries ``path`` (the file) and ``problem`` (``missing``, ``size``,
    ``sha256``, ``foreign``, ``manifest``).
    """

    def __init__(self, path: str | Path, problem: str, detail: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.detail = detail
        super().__init__(
            f"knowledge base artifact {self.path} is damaged: {detail}; rerun `kgrag build` to remake it"
        )


# -- faults: build lock, consistent readers, bounded corpus reading, recipe confinement --
class BuildLocked(GraphError):
    """Another build holds this knowledge base's build lock; the message names its pid."""


class PartDamaged(GraphError):
    """A shard's part (the build's checkpoint, :mod:`kgrag.pipeline.parts`) cannot be read.

    Rerunning the build checks every part against its manifest and links a damaged one's
    shard again.
    """

    def __init__(self, part: Path, problem: str) -> None:
        self.part, self.problem = part, problem
        super().__init__(
            f"build part {part} is damaged ({problem}); rerun the build to link its shard again"
        )


class BuildInterrupted(KgragError):
    """A shard worker process of a build died (killed, out of memory) before its shards were done.

    The parts it and the other workers finished are kept: rerunning the build skips them and
    links only the unfinished shards.
    """


class KnowledgeBaseRebuilding(RetrievalError):
    """The knowledge base changed (a build started or finished) while a request read it.

    The answer is withheld rather than mixing two versions. Retry after the build. ``reopen``: a
    newer build is complete; a reader opened anew answers from it.
    """

    def __init__(self, message: str, *, reopen: bool = False) -> None:
        self.reopen = reopen
        super().__init__(message)


class DocumentTooLarge(CorpusFormatError):
    """A corpus document over the per-document size limit (``max_chars`` of its source)."""

    def __init__(self, path: str | Path, detail: str, max_chars: int) -> None:
        super().__init__(
            path,
            None,
            f"longer than {max_chars:,} characters ({detail}); skipped "
            "(raise max_chars on the recipe's source to read it)",
        )


class RecipePathRefused(ConfigError):
    """A recipe names a path outside its own folder and the folders the user allowed."""


class RequestTimeout(RetrievalError, TimeoutError):
    """A case request ran longer than the service's timeout (the server answers 504).

    Send fewer findings, hypotheses or candidates, or raise the timeout.
    """


# -- generate (LLM backends) -------------------------------------------------------------
class LLMError(KgragError):
    """An LLM backend failed; ``kgrag.answer`` falls back to the extractive report."""


class LLMUnavailable(LLMError, ConnectionError):
    """The LLM cannot be reached or loaded (server down, HTTP error after retries, no model file).

    The message says what to check.
    """


class LLMTimeout(LLMError, TimeoutError):
    """The LLM did not answer within the time limit (``KGRAG_LLM_TIMEOUT``)."""


class AnswerInvalid(LLMError, ValueError):
    """An LLM reply that is not JSON of the required shape; the message says what is wrong.

    ``kgrag.answer`` sends the message back to the model and asks again; after the last try it
    falls back to the extractive report, so callers of ``kgrag.answer`` never see it.
    """


# -- serve (the sidecar) --------------------------------------------------------------------
class DocumentNotFound(KgragError, KeyError):
    """No stored document has this id (``GET /v1/documents/{id}/span``)."""

    def __str__(self) -> str:
        return str(self.args[0])


class NotReady(KgragError):
    """The server's knowledge base is still loading (or failed to load); the message says which.

    Retry after ``/readyz`` answers 200.
    """


class LLMNotConfigured(LLMError):
    """A grounded answer was asked for but no LLM is configured (``KGRAG_LLM``).

    The message says how to configure one.
    """


class ApiError(KgragError):
    """A sidecar route's answer with an HTTP status: sent as ``ErrorBody`` (``error``, ``message``).

    Raised inside ``kgrag.serve`` routes only; a client sees the status and the JSON body.

    Args:
        status: the HTTP status code (401, 404, 413, 422, 429, 501, ...).
        error: a short machine-readable name (``top_k_too_large``).
        message: what went wrong and what to do, for a person.
        headers: extra response headers (``Retry-After``).
    """

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers
