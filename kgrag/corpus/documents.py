"""Source documents with exact character offsets, and readers for common formats.

Every reader returns the document's text as kgrag stores it; chunk and mention spans index
that text, and the Document node keeps it, so every citation resolves to its characters.
Formats: plain text and Markdown (the file's text, unchanged), HTML (visible text, block
elements on their own lines), PDF (pypdf text, pages separated by a blank line) and
MedQuAD XML (each question and its answer, one section per question type).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from kgrag.errors import CorpusFormatError, MissingExtraError
from kgrag.types import BoundaryModel

logger = logging.getLogger(__name__)


class Section(BoundaryModel):
    start: int
    end: int
    label: str = Field(description="e.g. 'symptoms' (MedQuAD question type) or 'body'")


class SourceDocument(BoundaryModel):
    id: str
    title: str
    text: str
    source: str = Field(description="collection name, e.g. medquad/NIDDK")
    version: str = ""
    path: str = ""
    checksum: str = Field(description="sha256 of the file's bytes")
    sections: tuple[Section, ...] = ()
    focus: str | None = Field(default=None, description="the disease a page is about")
    focus_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadFailure:
    path: str
    reason: str


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CorpusFormatError(path, line, "not valid UTF-8; convert the file") from e


def _doc_id(root: Path, path: Path) -> str:
    """The file's path under the corpus folder (without ``.gz``): unique and stable."""
    return path.relative_to(root).as_posix().removesuffix(".gz")


def _whole(path: Path, root: Path, source: str, data: bytes, text: str, title: str) -> SourceDocument:
    """A document that is one ``body`` section."""
    return SourceDocument(
        id=_doc_id(root, path),
        title=title[:200],
        text=text,
        source=source,
        path=str(path),
        checksum=hashlib.sha256(data).hexdigest(),
        sections=(Section(start=0, end=len(text), label="body"),),
    )


def read_text(path: Path, root: Path, source: str) -> SourceDocument:
    data = _read_bytes(path)
    text = _decode(path, data)
    title = next((ln.strip("# ").strip() for ln in text.splitlines() if ln.strip()), path.name)
    return _whole(path, root, source, data, text, title)


class _TextExtractor(HTMLParser):
    _BLOCK: ClassVar[set[str]] = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "section",
        "article",
        "ul",
        "ol",
        "table",
        "title",
    }
    _SKIP: ClassVar[set[str]] = {"script", "style", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        if tag == "title":
            self._in_title = True
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        if tag == "title":
            self._in_title = False
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self.skip:
            self.parts.append(data)


def read_html(path: Path, root: Path, source: str) -> SourceDocument:
    data = _read_bytes(path)
    parser = _TextExtractor()
    parser.feed(_decode(path, data))
    text = re.sub(r"[ \t]*\n[ \t\n]*", "\n\n", "".join(parser.parts)).strip()
    text = re.sub(r"[ \t]{2,}", " ", text)
    return _whole(path, root, source, data, text, parser.title.strip() or path.name)


def read_pdf(path: Path, root: Path, source: str) -> SourceDocument:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as e:
        raise MissingExtraError("pypdf", "corpus", "Reading PDF files") from e
    data = _read_bytes(path)
    try:
        import io

        pages = [p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages]
    except (PdfReadError, ValueError, KeyError) as e:
        raise CorpusFormatError(path, None, f"unreadable PDF: {e}") from e
    text = "\n\n".join(pages)
    return _whole(path, root, source, data, text, path.stem)


def read_medquad(path: Path, root: Path, source: str) -> SourceDocument:
    data = _read_bytes(path)
    try:
        doc = ET.fromstring(data)
    except ET.ParseError as e:
        raise CorpusFormatError(path, e.position[0], f"malformed XML: {e}") from e
    focus = (doc.findtext("Focus") or "").strip()
    cuis = tuple(f"UMLS:{c.text.strip()}" for c in doc.iter("CUI") if c.text)
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    for pair in doc.iter("QAPair"):
        question = " ".join((pair.findtext("Question") or "").split())
        answer = html.unescape((pair.findtext("Answer") or "").strip())
        answer = re.sub(r"[ \t]*\n[ \t]*\n\s*", "\n\n", answer)
        if not answer:
            continue
        question_el = pair.find("Question")
        qtype = question_el.get("qtype", "other") if question_el is not None else "other"
        block = f"{question}\n{answer}\n\n"
        sections.append(
            Section(
                start=offset + len(question) + 1,
                end=offset + len(question) + 1 + len(answer),
                label=qtype,
            )
        )
        parts.append(block)
        offset += len(block)
    if not sections:
        raise CorpusFormatError(path, None, "MedQuAD document without answers")
    collection = doc.get("source", "")
    return SourceDocument(
        id=_doc_id(root, path),
        title=focus or path.stem,
        text="".join(parts),
        source=f"{source}/{collection}" if collection else source,
        path=str(path),
        version=doc.get("url", ""),
        checksum=hashlib.sha256(data).hexdigest(),
        sections=tuple(sections),
        focus=focus or None,
        focus_codes=cuis,
    )


READERS = {
    "text": read_text,
    "markdown": read_text,
    "html": read_html,
    "pdf": read_pdf,
    "medquad": read_medquad,
}
_BY_SUFFIX = {
    ".txt": "text",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".xml": "medquad",
}


def format_of(path: Path, default: str | None = None) -> str | None:
    suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    return _BY_SUFFIX.get(suffix.lower(), default)


def read_corpus(
    folder: str | Path, *, format: str | None = None, source: str = "corpus", limit: int | None = None
) -> Iterator[SourceDocument | ReadFailure]:
    """Every readable document under ``folder`` (sorted, recursive); unreadable files and
    duplicates come back as :class:`ReadFailure` so the build can report them."""
    root = Path(folder)
    if not root.is_dir():
        raise CorpusFormatError(root, None, "corpus folder not found")
    seen: dict[str, str] = {}
    count = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        fmt = format_of(path) if format in (None, "auto") else format
        if fmt is None or fmt not in READERS or path.name.startswith("."):
            continue
        if fmt != "medquad" and format_of(path) == "medquad":
            continue
        try:
            doc = READERS[fmt](path, root, source)
        except (CorpusFormatError, OSError, MissingExtraError) as e:
            yield ReadFailure(str(path), str(e))
            continue
        if doc.checksum in seen:
            yield ReadFailure(str(path), f"duplicate of {seen[doc.checksum]}")
            continue
        seen[doc.checksum] = str(path)
        yield doc
        count += 1
        if limit is not None and count >= limit:
            return
