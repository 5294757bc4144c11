"""Canonical snippets: `{{include NAME}}` on a line of its own is replaced, at load time, by the
body of `corpus/snippets/NAME.md` (which may include other snippets).

One red-flag list, written once and reviewed once, instead of a copy in every document: so a
document that writes its own "call 999" list, different from the canonical one, is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import CorpusError
from assistant.models import Source
from ingest.chunk import UNQUOTED_SECTIONS

SNIPPETS_DIR = "snippets"
CALL_999 = "call-999"
_INCLUDE = re.compile(r"^[ \t]*\{\{\s*include\s+([^\s{}]+)\s*\}\}[ \t]*$")
_BULLET = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+(.*\S)[ \t]*$")
_MENTIONS_999 = re.compile(r"\b999\b")
_ALSO_ASKED = re.compile(r"^also asked as\s*:?\s*$", re.IGNORECASE)


class SnippetMeta(BaseModel):
    # Other document fields (type, summary, ...) are allowed and unused.
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    reviewed: date


@dataclass
class Snippet:
    name: str
    path: str  # as shown in messages, e.g. corpus/snippets/call-999.md
    body: str
    body_line: int
    data: bytes


@dataclass
class Expansion:
    text: str
    used: list[Snippet] = field(default_factory=list)
    # The file line each line of `text` came from (an included line: the include's line).
    lines: list[int] = field(default_factory=list)

    def digest_input(self) -> bytes:
        """What the including document's content hash must also cover."""
        return b"".join(
            b"\0" + snippet.name.encode() + b"\0" + snippet.data for snippet in self.used
        )


@dataclass
class HandList:
    line: int
    items: list[str]


class Snippets:
    """The snippet library of one corpus, loaded once. `errors` are the snippet files' own."""

    def __init__(self, snippets: dict[str, Snippet], errors: list[CorpusError]) -> None:
        self.by_name = snippets
        self.errors = errors
        self._broken = {error.path for error in errors}
        for name in sorted(snippets):  # a snippet that includes itself, directly or not
            snippet = snippets[name]
            if snippet.path in self._broken:
                continue
            try:
                self._expand(snippet.body, snippet.path, snippet.body_line, [name])
            except CorpusError as error:
                self.errors.append(error)
                self._broken.add(snippet.path)

    @classmethod
    def load(cls, corpus_dir: Path) -> Snippets:
        from ingest.load import display, read_markdown

        folder = corpus_dir / SNIPPETS_DIR
        snippets: dict[str, Snippet] = {}
        errors: list[CorpusError] = []
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            shown = display(path, corpus_dir)
            try:
                data = path.read_bytes()
                front, body, body_line = read_markdown(data, shown)
                try:
                    SnippetMeta.model_validate(front)
                except ValidationError as error:
                    first = error.errors()[0]
                    where = ".".join(str(part) for part in first["loc"]) or "front matter"
                    raise CorpusError(
                        shown,
                        f"snippet front matter field '{where}': {first['msg']} (a snippet needs "
                        "title, sources and reviewed)",
                        field=where,
                    ) from None
            except CorpusError as error:
                errors.append(error)
                snippets[path.stem] = Snippet(path.stem, shown, "", 1, b"")
                continue
            snippets[path.stem] = Snippet(path.stem, shown, body, body_line, data)
        return cls(snippets, errors)

    def expand(self, body: str, shown: str, first_line: int) -> Expansion:
        """`body` with every include replaced; a CorpusError names the file and line."""
        self._check_hand_written_999(body, shown, first_line)
        return self._expand(body, shown, first_line, [])

    def canonical_999(self) -> list[str] | None:
        snippet = self.by_name.get(CALL_999)
        if snippet is None or snippet.path in self._broken:
            return None
        text = self._expand(snippet.body, snippet.path, snippet.body_line, [CALL_999]).text
        return [item for found in bullet_lists(text, 1, only_999=False) for item in found.items]

    def _expand(self, body: str, shown: str, first_line: int, stack: list[str]) -> Expansion:
        result = Expansion("")
        parts: list[str] = []
        for number, line in enumerate(body.splitlines(keepends=True)):
            match = _INCLUDE.match(line.rstrip("\r\n"))
            if match is None:
                parts.append(line)
                result.lines.append(first_line + number)
                continue
            name, at = match[1], first_line + number
            snippet = self.by_name.get(name)
            if snippet is None:
                known = ", ".join(sorted(self.by_name)) or "none yet"
                raise CorpusError(
                    shown,
                    f"unknown snippet '{name}': there is no corpus/{SNIPPETS_DIR}/{name}.md "
                    f"(snippets: {known}); fix the name or add the snippet",
                    line=at,
                )
            if name in stack:
                chain = " -> ".join([*stack[stack.index(name) :], name])
                raise CorpusError(
                    shown,
                    f"snippet '{name}' includes itself ({chain}); remove that include",
                    line=at,
                )
            if snippet.path in self._broken and not stack:
                raise CorpusError(
                    shown,
                    f"snippet '{name}' cannot be used until {snippet.path} is fixed",
                    line=at,
                )
            inner = self._expand(snippet.body, snippet.path, snippet.body_line, [*stack, name])
            included = inner.text.strip("\n") + "\n"
            parts.append(included)
            result.lines += [at] * included.count("\n")
            result.used += [snippet, *inner.used]
        result.text = "".join(parts)
        return result

    def _check_hand_written_999(self, body: str, shown: str, first_line: int) -> None:
        canonical = self.canonical_999()
        if canonical is None:
            return
        wanted = [_normal(item) for item in canonical]
        for found in bullet_lists(body, first_line):
            if [_normal(item) for item in found.items] != wanted:
                raise CorpusError(
                    shown,
                    "a hand-written 'call 999' list that differs from the canonical one; "
                    f"replace the list with a line {{{{include {CALL_999}}}}} "
                    f"(corpus/{SNIPPETS_DIR}/{CALL_999}.md)",
                    line=found.line,
                )


def bullet_lists(body: str, first_line: int, *, only_999: bool = True) -> list[HandList]:
    """Bullet lists introduced by, or whose items mention, calling 999 (with `only_999`)."""
    lines = body.splitlines()
    found: list[HandList] = []
    index = 0
    heading = ""
    while index < len(lines):
        if _BULLET.match(lines[index]) is None:
            if lines[index].startswith("#"):
                heading = lines[index].strip("# \t").lower()
            index += 1
            continue
        start, items = index, []
        while index < len(lines):
            match = _BULLET.match(lines[index])
            if match is not None:
                items.append(match[1])
            elif items and lines[index][:1] in (" ", "\t") and lines[index].strip():
                items[-1] += " " + lines[index].strip()
            else:
                break
            index += 1
        before = [line for line in lines[max(0, start - 3) : start] if line.strip()]
        intro = before[-1] if before else ""
        if _ALSO_ASKED.match(intro.strip()) or heading in UNQUOTED_SECTIONS:
            continue  # phrasings of a question, or a list of sources
        if (
            not only_999
            or _MENTIONS_999.search(intro)
            or any(_MENTIONS_999.search(item) for item in items)
        ):
            found.append(HandList(first_line + start, items))
    return found


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[*_`]", "", text).lower().split()).rstrip(".;,:")
