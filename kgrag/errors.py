"""kgrag's errors: one root, each message saying what to do next.

The tree::

    KgragError
    ├── ConfigError(ValueError)            bad settings or config file
    ├── MissingExtraError(ImportError)     an optional dependency is not installed
    ├── OntologyError
    │   ├── OntologyFormatError(ValueError)   a source file is malformed (file and line)
    │   ├── OntologySourceMissing(FileNotFoundError)  a source file is not where expected
    │   └── ChecksumMismatch               a shipped file differs from its manifest
    ├── CorpusFormatError(ValueError)      a corpus file is malformed (file and line)
    ├── GraphError                         a graph store failed
    │   ├── GraphUnavailable(ConnectionError)  server down, wrong credentials, no such store
    │   └── GraphWriteError                a write failed (disk full, lost connection)
    ├── ConceptNotFound(KeyError)          no concept has that code or id
    ├── RetrievalError                     diagnosis/retrieval cannot answer
    │   ├── NoUsableFindings(ValueError)   nothing in the input to rank diseases by
    │   └── RetrievalNotBuilt              the knowledge base lacks retrieval artifacts
    └── LLMError                           an LLM backend failed (generate falls back)
        ├── LLMUnavailable(ConnectionError)  server down, model file missing, HTTP error
        └── LLMTimeout(TimeoutError)       no answer within the time limit

Errors that double as builtins can be caught either way
(``except KeyError`` catches :class:`ConceptNotFound`).
"""

from __future__ import annotations

from pathlib import Path


class KgragError(Exception):
    """Root of every error kgrag raises on purpose."""


class ConfigError(KgragError, ValueError):
    """A setting or config file is invalid."""


class MissingExtraError(KgragError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package. Install it with: pip install \"kgrag[{extra}]\""
        )


class OntologyError(KgragError):
    """Base for problems with vocabulary sources."""


class OntologyFormatError(OntologyError, ValueError):
    """A vocabulary file is malformed. Carries the file and the 1-based line number."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
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

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class GraphError(KgragError):
    """Base for graph store failures."""


class GraphUnavailable(GraphError, ConnectionError):
    """The graph store cannot be reached or opened; the message says what to check."""


class GraphWriteError(GraphError):
    """A write to the graph failed part-way; rerunning the build resumes and repairs."""


class ConceptNotFound(KgragError, KeyError):
    """No unified concept has this id or code."""

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


# -- generate (LLM backends) -------------------------------------------------------------
class LLMError(KgragError):
    """An LLM backend failed; ``kgrag.answer`` falls back to the extractive report."""


class LLMUnavailable(LLMError, ConnectionError):
    """The LLM cannot be reached or loaded (server down, HTTP error after retries, no
    model file); the message says what to check."""


class LLMTimeout(LLMError, TimeoutError):
    """The LLM did not answer within the time limit (``KGRAG_LLM_TIMEOUT``)."""
