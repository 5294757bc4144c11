"""Suggestions for trainers follow CORPUS-CONVENTIONS.md: "Also asked as" lines, and a new
document's front matter with the same fields as every corpus document."""

from __future__ import annotations

from datetime import date

import yaml

from api.workspace import also_asked_lines, new_document_stub


def test_also_asked_lines_are_the_conventions_block() -> None:
    block = also_asked_lines(
        [
            "How do I get a PASSPORT for my foster child?",
            "how do i get a passport for my foster child",  # the same, differently written
            "can [name] have a passport",  # redacted: no use as a phrasing
            "passport form who signs it",
            "a",
            "b",
            "c",
            "d",
        ]
    )
    lines = block.splitlines()
    assert lines[0] == "Also asked as:"
    assert lines[1] == "- how do i get a passport for my foster child"
    assert "- passport form who signs it" in lines
    assert not any("[name]" in line for line in lines)
    assert len(lines) == 1 + 5
    assert also_asked_lines(["[name] [place]"]) == ""


def test_new_document_stub_has_front_matter_and_a_question_heading() -> None:
    stub = new_document_stub(
        ["how do i get a passport for my foster child", "passport form who signs it"],
        date(2026, 11, 27),
    )
    _, front, body = stub.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert {"title", "type", "summary", "sources", "reviewed", "topics", "jurisdiction"} <= set(
        meta
    )
    assert meta["reviewed"] == date(2026, 11, 27)
    assert meta["type"] == "guidance"
    heading = "## How do i get a passport for my foster child?"
    assert body.lstrip().startswith(f"{heading}\n\nAlso asked as:\n- passport form who signs it\n")
    # No Sources section: Nurture writes it from the front matter's sources.
    assert "## Sources" not in body and meta["sources"][0]["url"].startswith("TODO")
