"""Stage 1: find corpus files and read them into raw documents (text + front matter).

Markdown carries its metadata as YAML front matter; HTML, PDF and DOCX files carry it in a
sidecar `<name>.<ext>.meta.yaml`. Every loader turns its format into Markdown-style text with
`#` headings, so the later stages treat all formats alike.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from assistant.errors import CorpusError

if TYPE_CHECKING:
    from ingest.snippets import Snippets

logger = logging.getLogger(__name__)

SUPPORTED = (".md", ".html", ".htm", ".pdf", ".docx")
SIDECAR = ".meta.yaml"
# Files in the corpus folder that are about the corpus, not part of it.
SKIPPED_NAMES = {"README.md"}
SKIPPED_DIRS = {"eval", "snippets"}


class _TextDatesLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Leaves dates as text so the validator can name the field of an impossible date.
    (libyaml's parser when PyYAML has it: ten times faster on a corpus's front matter.)"""


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.line = line


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str) and key in seen:
            raise DuplicateKeyError(key, key_node.start_mark.line)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_TextDatesLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_TextDatesLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class RawDocument:
    id: str
    path: str
    front_matter: dict[str, Any]
    body: str
    content_hash: str
    body_line: int = 1  # line of the body's first line in the file, for messages
    # The file line of each body line when snippets were expanded into it (else None).
    line_map: list[int] | None = None


@dataclass
class LoadResult:
    documents: list[RawDocument] = field(default_factory=list)
    errors: list[CorpusError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Ids of files that exist but failed, so ingest can keep their earlier version serving.
    failed_ids: set[str] = field(default_factory=set)


def document_id(corpus_dir: Path, path: Path) -> str:
    relative = path.relative_to(corpus_dir).as_posix()
    if relative.endswith(".md"):
        return relative[: -len(".md")]
    return relative.rsplit(".", 1)[0]


def corpus_files(corpus_dir: Path) -> list[Path]:
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if not path.is_file() or relative.parts[0] in SKIPPED_DIRS:
            continue
        if path.name in SKIPPED_NAMES or path.name.startswith("."):
            continue
        if path.suffix.lower() in SUPPORTED:
            files.append(path)
    return files


def document_ids(corpus_dir: Path) -> set[str]:
    """The id of every document file in the corpus (loaded or not)."""
    return {document_id(corpus_dir, path) for path in corpus_files(corpus_dir)}


DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024


def load_corpus(corpus_dir: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> LoadResult:
    if not corpus_dir.is_dir():
        raise CorpusError(str(corpus_dir), "corpus folder not found (set NURTURE_CORPUS_DIR)")
    from ingest.snippets import Snippets

    result = LoadResult()
    snippets = Snippets.load(corpus_dir)
    result.errors.extend(snippets.errors)
    for path in corpus_files(corpus_dir):
        doc_id = document_id(corpus_dir, path)
        try:
            check_size(path, corpus_dir, max_file_bytes)
            result.documents.append(load_file(path, doc_id, corpus_dir, snippets))
        except CorpusError as error:
            result.errors.append(error)
            result.failed_ids.add(doc_id)
    for sidecar in sorted(corpus_dir.rglob(f"*{SIDECAR}")):
        target = sidecar.with_name(sidecar.name[: -len(SIDECAR)])
        if not target.exists():
            result.warnings.append(
                f"{display(sidecar, corpus_dir)}: no file named {target.name} beside it "
                "(rename the sidecar or add the document)"
            )
    return result


def check_size(path: Path, corpus_dir: Path, max_file_bytes: int) -> None:
    size = path.stat().st_size
    if size > max_file_bytes:
        raise CorpusError(
            display(path, corpus_dir),
            f"the file is {size:,} bytes, over the limit of {max_file_bytes:,} "
            "(NURTURE_MAX_FILE_BYTES); split it into smaller documents or raise the setting",
        )


def display(path: Path, corpus_dir: Path) -> str:
    try:
        return (corpus_dir.name / path.relative_to(corpus_dir)).as_posix()
    except ValueError:
        return str(path)


def read_markdown(data: bytes, shown: str) -> tuple[dict[str, Any], str, int]:
    """Front matter, body, and the file line the body starts on."""
    return split_front_matter(_decode(data, shown), shown)


def load_file(
    path: Path, doc_id: str, corpus_dir: Path, snippets: Snippets | None = None
) -> RawDocument:
    shown = display(path, corpus_dir)
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".md":
        front_matter, body, body_line = read_markdown(data, shown)
        extra = b""
        line_map = None
        if snippets is not None:
            expansion = snippets.expand(body, shown, body_line)
            body, extra = expansion.text, expansion.digest_input()
            line_map = expansion.lines if expansion.used else None
        digest = hashlib.sha256(data + extra).hexdigest()
        return RawDocument(doc_id, shown, front_matter, body, digest, body_line, line_map)

    sidecar = path.with_name(path.name + SIDECAR)
    if not sidecar.exists():
        raise CorpusError(
            shown,
            f"no metadata: add a sidecar file {sidecar.name} with title, type, summary, "
            "sources and reviewed",
        )
    sidecar_bytes = sidecar.read_bytes()
    front_matter = _parse_yaml(
        _decode(sidecar_bytes, display(sidecar, corpus_dir)),
        display(sidecar, corpus_dir),
        first_line=1,
    )
    if suffix in (".html", ".htm"):
        body = html_to_markdown(_decode(data, shown))
    elif suffix == ".pdf":
        body = pdf_to_markdown(data, shown)
    else:
        body = docx_to_markdown(data, shown)
    digest = hashlib.sha256(data + b"\0" + sidecar_bytes).hexdigest()
    return RawDocument(doc_id, shown, front_matter, body, digest)


def _decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CorpusError(
            shown,
            f"bytes that are not UTF-8 text at byte {error.start} "
            "(save the file as UTF-8 in your editor)",
            line=line,
        ) from None


def split_front_matter(text: str, shown: str) -> tuple[dict[str, Any], str, int]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise CorpusError(
            shown,
            "no front matter: the file must start with a line '---', the details "
            "(title, type, summary, sources, reviewed), and another '---'",
            line=1,
        )
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            front = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            return _parse_yaml(front, shown, first_line=2), body, index + 2
    raise CorpusError(
        shown, "front matter is not closed: add a line '---' after the details", line=1
    )


def _parse_yaml(text: str, shown: str, first_line: int) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_TextDatesLoader)  # a SafeLoader
    except DuplicateKeyError as error:
        raise CorpusError(
            shown,
            f"front matter has the field '{error.key}' more than once; keep one of them",
            field=error.key,
            line=first_line + error.line,
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = first_line + mark.line if mark is not None else None
        problem = getattr(error, "problem", None) or "cannot be read"
        raise CorpusError(
            shown,
            f"front matter is not valid YAML ({problem}); check colons, quotes and indentation",
            line=line,
        ) from None
    if not isinstance(data, dict):
        raise CorpusError(shown, "front matter must be 'field: value' lines", line=first_line)
    return data


def html_to_markdown(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        tag.decompose()
    root = soup.body or soup
    blocks: list[str] = []
    for element in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li"]):
        text = " ".join(element.get_text(" ", strip=True).split())
        if not text:
            continue
        if element.name.startswith("h"):
            blocks.append("#" * int(element.name[1]) + " " + text)
        elif element.name == "li":
            blocks.append("- " + text)
        else:
            blocks.append(text)
    return "\n\n".join(blocks) + "\n"


def pdf_to_markdown(data: bytes, shown: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise CorpusError(
            shown, f"the PDF cannot be read ({error}); export it again or replace it"
        ) from None
    blocks = []
    for number, text in enumerate(pages, start=1):
        paragraphs = [" ".join(part.split()) for part in text.split("\n\n")]
        body = "\n\n".join(part for part in paragraphs if part)
        if body:
            blocks.append(f"## Page {number}\n\n{body}")
    return "\n\n".join(blocks) + "\n"


def docx_to_markdown(data: bytes, shown: str) -> str:
    from docx import Document as DocxDocument

    try:
        document = DocxDocument(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - python-docx raises unrelated types for bad files
        raise CorpusError(
            shown, f"the Word file cannot be read ({type(error).__name__}); save it again as .docx"
        ) from None
    blocks = []
    for paragraph in document.paragraphs:
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.startswith("Heading ") and style[8:].isdigit():
            blocks.append("#" * min(int(style[8:]) + 1, 6) + " " + text)
        elif style == "Title":
            continue
        else:
            blocks.append(text)
    return "\n\n".join(blocks) + "\n"
