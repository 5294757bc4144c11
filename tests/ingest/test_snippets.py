"""Snippets: `{{include NAME}}` expands at load time; unknown and self-including snippets and
hand-written "call 999" lists fail `nurture check` with file and line, and ingest keeps serving
the previous version of a file that has such an error."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.store import open_store
from ingest.load import load_corpus
from ingest.pipeline import Pipeline
from ingest.validate import CheckReport, check_corpus

SNIPPET = """---
title: {title}
sources:
  - name: Is your baby or toddler seriously ill?
    url: https://www.nhs.uk/conditions/baby/health/is-your-baby-or-toddler-seriously-ill/
    publisher: NHS
reviewed: 2026-11-01
---

{body}
"""

CALL_999 = """Call 999 if a baby or young child:

- stops breathing;
- will not wake up;
- is under 2 months old and you are very worried about them."""

DOC = """---
title: When a baby is unwell
type: guidance
summary: Signs to act on.
sources:
  - name: NHS
    url: https://www.nhs.uk/conditions/baby/
    year: 2024
reviewed: 2026-01-01
---

## When should I call 999?

Some signs need an ambulance.

{include}

## Sources

- NHS, call 999 list, 2024.
"""


def write_snippet(corpus: Path, name: str, body: str) -> Path:
    folder = corpus / "snippets"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(SNIPPET.format(title=name, body=body))
    return path


def write_doc(corpus: Path, include: str, name: str = "unwell") -> Path:
    path = corpus / "guidance" / f"{name}.md"
    path.write_text(DOC.format(include=include))
    return path


def check(corpus: Path) -> CheckReport:
    return check_corpus(
        corpus, today=date(2026, 11, 26), review_warn_months=18, max_section_words=400
    )


def errors(corpus: Path) -> list[str]:
    return [str(f) for f in check(corpus).findings if f.severity == "error"]


def test_include_expands_nested_snippets_and_snippets_are_not_documents(corpus: Path) -> None:
    write_snippet(corpus, "call-999", CALL_999 + "\n\n{{include skin-colour}}")
    write_snippet(corpus, "skin-colour", "On brown or black skin, look at the palms and soles.")
    write_doc(corpus, "{{include call-999}}")
    loaded = load_corpus(corpus)
    assert loaded.errors == []
    docs = {raw.id: raw for raw in loaded.documents}
    assert not any(doc_id.startswith("snippets/") for doc_id in docs)
    body = docs["guidance/unwell"].body
    assert "{{include" not in body
    assert "- will not wake up;" in body and "look at the palms and soles" in body
    assert errors(corpus) == []

    # Changing a snippet changes every including document's content hash (so it re-embeds).
    before = docs["guidance/unwell"].content_hash
    write_snippet(corpus, "skin-colour", "On brown or black skin, look inside the eyelids.")
    after = {raw.id: raw for raw in load_corpus(corpus).documents}["guidance/unwell"]
    assert after.content_hash != before


def test_unknown_snippet_fails_with_file_and_line(corpus: Path) -> None:
    write_doc(corpus, "{{include call-998}}")
    assert errors(corpus) == [
        "error: corpus/guidance/unwell.md:16: unknown snippet 'call-998': there is no "
        "corpus/snippets/call-998.md (snippets: none yet); fix the name or add the snippet"
    ]


def test_snippet_that_includes_itself_fails(corpus: Path) -> None:
    write_snippet(corpus, "loop", "Words.\n\n{{include loop}}")
    found = errors(corpus)
    assert len(found) == 1
    assert found[0].startswith("error: corpus/snippets/loop.md:12: snippet 'loop' includes itself")


def test_snippets_that_include_each_other_fail_and_so_does_the_document(corpus: Path) -> None:
    write_snippet(corpus, "a", "A words.\n{{include b}}")
    write_snippet(corpus, "b", "B words.\n{{include a}}")
    write_doc(corpus, "{{include a}}")
    found = errors(corpus)
    assert found == [
        "error: corpus/guidance/unwell.md:16: snippet 'a' cannot be used until "
        "corpus/snippets/a.md is fixed",
        "error: corpus/snippets/a.md:11: snippet 'b' includes itself (b -> a -> b); "
        "remove that include",
        "error: corpus/snippets/b.md:11: snippet 'a' includes itself (a -> b -> a); "
        "remove that include",
    ]


def test_hand_written_999_list_that_differs_fails(corpus: Path) -> None:
    write_snippet(corpus, "call-999", CALL_999)
    write_doc(corpus, "Ring 999 if the baby:\n\n- stops breathing\n- is under 8 weeks old")
    assert errors(corpus) == [
        "error: corpus/guidance/unwell.md:18: a hand-written 'call 999' list that differs from "
        "the canonical one; replace the list with a line {{include call-999}} "
        "(corpus/snippets/call-999.md)"
    ]
    # Items that mention 999 count too, whatever introduces the list.
    write_doc(corpus, "What to do:\n\n- if she stops breathing, dial 999\n- keep her warm")
    assert len(errors(corpus)) == 1
    # The canonical wording written out (not recommended, but not different) passes,
    # and so does a list in Sources or "Also asked as" that mentions 999.
    write_doc(corpus, CALL_999.replace("Call 999", "Phone 999").replace("- will", "* will"))
    assert errors(corpus) == []
    asked = corpus / "guidance" / "asked.md"
    asked.write_text(
        DOC.format(include="{{include call-999}}").replace(
            "## When should I call 999?\n",
            "## When do I ring for an ambulance?\n\nAlso asked as:\n- when do i ring 999\n",
        )
    )
    assert errors(corpus) == []


def test_without_a_call_999_snippet_lists_are_not_checked(corpus: Path) -> None:
    write_doc(corpus, "Ring 999 if the baby:\n\n- stops breathing")
    assert errors(corpus) == []


def test_ingest_skips_a_file_with_a_snippet_error_and_keeps_its_previous_version(
    embedded_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    settings = embedded_settings
    write_snippet(settings.corpus_dir, "call-999", CALL_999)
    write_doc(settings.corpus_dir, "{{include call-999}}")
    store = open_store(settings)
    first = Pipeline(settings, store, embedder).run()
    assert first.ok and first.documents == 8
    chunks = store.chunks(store.collection(str(first.active)), ["guidance/unwell"])[0]
    assert any("will not wake up" in chunk.text for chunk in chunks)

    # The snippet changes: the including document is re-embedded.
    write_snippet(settings.corpus_dir, "call-999", CALL_999.replace("breathing", "breathing!"))
    second = Pipeline(settings, store, embedder).run()
    assert second.embedded == ["guidance/unwell"]

    # A broken include: the file is skipped and its previous version keeps serving.
    write_doc(settings.corpus_dir, "{{include call-99}}")
    third = Pipeline(settings, store, embedder).run()
    assert not third.ok and "corpus/guidance/unwell.md:16" in str(third.errors[0])
    assert third.kept_previous == ["guidance/unwell"]
    kept = store.chunks(store.collection(str(third.active)), ["guidance/unwell"])[0]
    assert any("breathing!" in chunk.text for chunk in kept)


def test_lines_after_an_include_are_the_files_own(corpus: Path) -> None:
    write_snippet(corpus, "long", "\n".join(f"Line {n} of a long snippet." for n in range(30)))
    path = write_doc(corpus, "{{include long}}")
    path.write_text(
        path.read_text().replace(
            "## Sources\n",
            "## Can the baby come?\n\nAlso asked as:\n- can the baby sleep in our bed\n\n"
            "Yes.\n\n## Sources\n",
        )
    )
    found = [f for f in check(corpus).findings if f.severity == "error"]
    assert [f.where for f in found] == ["corpus/guidance/unwell.md:21"]
