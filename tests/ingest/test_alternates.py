"""'Also asked as' phrasings: parsed onto the section, never quoted, checked across the library."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from assistant.models import Chunk
from ingest.chunk import split_sections
from ingest.load import load_corpus
from ingest.sources import source_line
from ingest.validate import CheckReport, check_corpus, validate_document
from tests.conftest import make_chunk

BODY = """Opening words.

## How do I settle a baby who screams every evening?

Also asked as:
- baby screams every night from 6 till 9 what can i do
- nothing calms her in the evenings and im at the end of my rope

Start with the basics: check whether the baby is hungry.

## Sources

- A source.
"""

SETTLE = """## How do I settle a screaming baby?

Also asked as:
- {first}
- how to stop evening crying in a 7 week old

A crying baby"""


def check(corpus: Path) -> CheckReport:
    return check_corpus(
        corpus, today=date(2026, 11, 26), review_warn_months=18, max_section_words=400
    )


def test_block_becomes_alternates_and_is_not_quoted() -> None:
    sections = split_sections(BODY)
    settle = sections[1]
    assert settle.alternates == [
        "baby screams every night from 6 till 9 what can i do",
        "nothing calms her in the evenings and im at the end of my rope",
    ]
    assert settle.text == "Start with the basics: check whether the baby is hungry."
    assert BODY[settle.start : settle.end] == settle.text
    assert "Also asked as" not in "".join(s.text for s in sections)
    assert sections[0].alternates == [] and sections[2].alternates == []


def test_a_list_later_in_the_section_is_text() -> None:
    body = "## Q?\n\nFirst answer.\n\nAlso asked as:\n- not an alternate\n"
    section = split_sections(body)[0]
    assert section.alternates == [] and "not an alternate" in section.text


def test_chunk_metadata_keeps_alternates() -> None:
    chunk = make_chunk(heading_path=["Q?"], alternates=["one way", "another way"])
    back = Chunk.from_metadata(chunk.id, chunk.text, chunk.to_metadata())
    assert back.alternates == ["one way", "another way"]


def add_alternates(corpus: Path, first: str) -> Path:
    path = corpus / "guidance" / "crying.md"
    text = path.read_text()
    path.write_text(
        text.replace(
            "## How do I settle a screaming baby?\n\nA crying baby", SETTLE.format(first=first)
        )
    )
    return path


def test_check_fails_on_an_alternate_that_duplicates_another_heading(corpus: Path) -> None:
    add_alternates(corpus, "Can the baby sleep in OUR bed")
    report = check(corpus)
    errors = [f for f in report.findings if f.severity == "error"]
    assert len(errors) == 1, errors
    assert errors[0].where == "corpus/guidance/crying.md:21"
    assert "corpus/guidance/safer-sleep.md 'Can the baby sleep in our bed?'" in errors[0].message


def test_check_fails_on_an_alternate_that_duplicates_another_alternate(corpus: Path) -> None:
    add_alternates(corpus, "baby wont stop crying!")
    pause = corpus / "programmes" / "pause.md"
    pause.write_text(
        pause.read_text().replace(
            "## Does Pause work?\n",
            "## Does Pause work?\n\nAlso asked as:\n- Baby won't stop crying\n",
        )
    )
    errors = [f for f in check(corpus).findings if f.severity == "error"]
    assert len(errors) == 1, errors
    assert errors[0].path == "corpus/programmes/pause.md" and errors[0].line == 23
    assert "an alternate of corpus/guidance/crying.md" in errors[0].message


def test_check_warns_on_a_section_without_alternates(corpus: Path) -> None:
    add_alternates(corpus, "baby wont stop crying")
    report = check(corpus)
    assert report.errors == 0
    missing = [f for f in report.findings if "no 'Also asked as:'" in f.message]
    crying = {f.line for f in missing if f.path == "corpus/guidance/crying.md"}
    # Two of its three quoted sections have none; Sources needs none.
    assert len(crying) == 2
    assert not any("Sources" in f.message for f in missing)


def test_check_warns_on_a_source_that_is_a_bare_domain(corpus: Path) -> None:
    path = corpus / "programmes" / "pause.md"
    path.write_text(
        path.read_text().replace("https://www.pause.org.uk/", "https://www.pause.org.uk/about")
    )
    bare = [f for f in check(corpus).findings if "bare domain" in f.message]
    # The fixture's Lullaby Trust and ICON sources are homepages; pages and sidecars' are not.
    assert sorted(f.path for f in bare) == [
        "corpus/guidance/crying.md",
        "corpus/guidance/safer-sleep.md",
    ]
    assert all(f.severity == "warning" for f in bare)
    assert "(https://iconcope.org/)" in next(f.message for f in bare if "crying" in f.path)


def test_the_sources_section_is_written_from_the_front_matter(corpus: Path) -> None:
    # One place to edit a source: the section a carer reads at the end of a document comes from
    # `sources`, and a hand-written one is replaced and reported.
    path = corpus / "guidance" / "crying.md"
    path.write_text(path.read_text() + "\n## Sources\n\n- Something else entirely.\n")
    report = check(corpus)
    assert report.errors == 0
    hand = [f for f in report.findings if "hand-written '## Sources'" in f.message]
    assert [f.path for f in hand] == ["corpus/guidance/crying.md"]
    raw = next(r for r in load_corpus(corpus).documents if r.id == "guidance/crying")
    doc = validate_document(raw)
    assert doc.sections[-1].heading_path[-1] == "Sources"
    assert "Something else" not in doc.body
    first = doc.meta.sources[0]
    assert source_line(first) in doc.sections[-1].text
    assert (first.url or "(no web page)") in doc.sections[-1].text


def test_check_warns_on_a_source_with_no_page(corpus: Path) -> None:
    def missing() -> list[str]:
        return [
            f.message
            for f in check(corpus).findings
            if "has no url" in f.message and f.path == "corpus/programmes/pause.md"
        ]

    # The fixture's Department for Education evaluation names no page.
    assert missing() == [
        "source 2 ('Department for Education evaluation') has no url; add the address of the "
        "page itself, or replace the source with a public page that supports the text"
    ]
    path = corpus / "programmes" / "pause.md"
    path.write_text(path.read_text().replace("    url: https://www.pause.org.uk/\n", "", 1))
    assert [message.split(" has no url")[0] for message in missing()] == [
        "source 1 ('Pause')",
        "source 2 ('Department for Education evaluation')",
    ]
