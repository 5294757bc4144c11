"""A document's `## Sources` section, written from its front matter, and the checks on sources.

The front matter's `sources` list is the one place a trainer edits a source: the section a carer
reads at the end of a document is rendered from it at load time, so the two cannot disagree.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from assistant.models import Document, Source

HEADING = "Sources"
# A hand-written `## Sources` heading, and everything after it, at the end of a body.
_HAND_WRITTEN = re.compile(r"(?ms)^##[ \t]+sources[ \t]*$.*\Z", re.IGNORECASE)


def source_line(source: Source) -> str:
    """One entry as a carer reads it: publisher, title, year, then the page to open."""
    who = f"{source.publisher}, " if source.publisher else ""
    when = str(source.year) if source.year else "undated"
    where = source.url or "(no web page)"
    return f"- {who}{source.name}, {when}. {where}"


def render(sources: list[Source]) -> str:
    return f"## {HEADING}\n\n" + "\n".join(source_line(source) for source in sources) + "\n"


def with_rendered_sources(body: str, sources: list[Source]) -> tuple[str, bool]:
    """The body with its Sources section written from `sources`, and whether the file had a
    hand-written one at its end (it is replaced; `nurture check` asks for it to be removed)."""
    match = _HAND_WRITTEN.search(body)
    kept = body[: match.start()] if match else body
    return kept.rstrip("\n") + "\n\n" + render(sources), match is not None


def review_sources(doc: Document) -> list[tuple[str, str]]:
    """(severity, message) for each source that does not name a page a reader can open."""
    problems = []
    for number, source in enumerate(doc.meta.sources, start=1):
        if not source.url:
            problems.append(
                (
                    "warning",
                    f"source {number} ('{source.name}') has no url; add the address of the page "
                    "itself, or replace the source with a public page that supports the text",
                )
            )
            continue
        address = urlparse(source.url)
        if address.path in ("", "/") and not address.query:
            problems.append(
                (
                    "warning",
                    f"source {number} ('{source.name}') links to a bare domain ({source.url}); "
                    "link the page itself",
                )
            )
    return problems
