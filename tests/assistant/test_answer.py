"""The answering contract on a real index of the fixture corpus, with the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Answer, Assistant, Filters, Message
from assistant.compose import split_sentences
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluate import citation_problems
from assistant.store import open_store
from ingest.pipeline import Pipeline


def assert_grounded(answer: Answer) -> None:
    assert not answer.abstained
    assert citation_problems(answer) == []
    numbers = [c.n for c in answer.citations]
    assert numbers == sorted(set(numbers))
    for citation in answer.citations:
        for quote in citation.quotes:
            # Every quoted sentence is really in the cited passage.
            passage = " ".join(citation.snippet.replace("**", "").split())
            assert quote.rstrip(".!?") in passage


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("can the baby sleep in our bed just this once", "guidance/safer-sleep"),
        ("how do i settle a screaming baby", "guidance/crying"),
        ("what if she is upset after family time", "guidance/family-time"),
        ("what does pause do", "programmes/pause"),
        ("who do I call at night if I need help", "leaflets/who-to-call"),
    ],
)
def test_answers_are_grounded_and_cited(
    fixture_assistant: Assistant, question: str, doc_id: str
) -> None:
    answer = fixture_assistant.ask(question)
    assert_grounded(answer)
    assert answer.citations[0].doc_id == doc_id
    assert 1 <= len(split_sentences(answer.answer.replace(" [", "\n["))) <= 12
    citation = answer.citations[0]
    assert citation.evidence in {"guidance", "programme evidence", "case study"}
    assert citation.reviewed.year == 2026 and citation.title and citation.source
    assert set(answer.timings_ms) >= {"triage", "embed", "dense", "lexical", "fuse", "compose"}


def test_citation_carries_everything_to_open_the_passage(fixture_assistant: Assistant) -> None:
    answer = fixture_assistant.ask("Can the baby sleep in our bed?")
    citation = answer.citations[0]
    assert citation.doc_id == "guidance/safer-sleep"
    assert citation.anchor == "can-the-baby-sleep-in-our-bed"
    assert citation.section == "Can the baby sleep in our bed?"
    assert citation.url == "https://www.lullabytrust.org.uk/"
    assert citation.source == "The Lullaby Trust" and citation.type == "guidance"


@pytest.mark.parametrize(
    "question",
    [
        "what time does the tip open on sunday",
        "how do I fix a leaking kitchen tap",
        "who won the football last night",
        "what is the capital of peru",
    ],
)
def test_out_of_scope_questions_abstain_kindly(fixture_assistant: Assistant, question: str) -> None:
    answer = fixture_assistant.ask(question)
    assert answer.abstained and answer.abstain_reason == "out_of_scope"
    assert answer.citations == [] and "[1]" not in answer.answer
    # Who to ask instead: the topic's own pointer, or the supervising social worker.
    assert fixture_assistant.scope is not None
    pointers = [*fixture_assistant.scope.pointers.values(), "supervising social worker"]
    assert any(pointer in answer.answer for pointer in pointers)


def test_follow_up_uses_the_previous_question(fixture_assistant: Assistant) -> None:
    history = [
        Message(role="user", content="how do i get a baby ready for family time?"),
        Message(role="assistant", content="..."),
    ]
    assert "family time" in fixture_assistant.retrieval_query("and afterwards?", history)
    answer = fixture_assistant.ask("and what about afterwards?", history=history)
    assert_grounded(answer)
    assert answer.citations[0].doc_id == "guidance/family-time"
    alone = fixture_assistant.retrieval_query("and what about afterwards?", [])
    assert alone == "and what about afterwards?"


def test_filters_narrow_the_evidence(fixture_assistant: Assistant) -> None:
    answer = fixture_assistant.ask(
        "support for women who had children removed", filters=Filters(types=["programme"])
    )
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} == {"programmes/pause"}
    by_topic = fixture_assistant.ask(
        "how should a baby be put down", filters=Filters(topics=["sleep"])
    )
    assert {c.doc_id for c in by_topic.citations} == {"guidance/safer-sleep"}
    by_age = fixture_assistant.retrieve("sleep", Filters(age_months=30))
    assert all(
        hit.chunk.age_max_months is None or hit.chunk.age_max_months >= 30 for hit in by_age.hits
    )
    nothing = fixture_assistant.ask("sleep", filters=Filters(topics=["no-such-topic"]))
    assert nothing.abstained and nothing.abstain_reason == "no_evidence"


def test_emergency_block_comes_before_anything_retrieved(fixture_assistant: Assistant) -> None:
    answer = fixture_assistant.ask("my baby is not breathing and has gone blue")
    assert answer.safety.category == "emergency"
    assert answer.safety.message and answer.answer.startswith(answer.safety.message)
    assert "999" in answer.answer.split("\n")[0]
    assert citation_problems(answer) == []


def test_safeguarding_block_then_cited_guidance(fixture_assistant: Assistant) -> None:
    answer = fixture_assistant.ask("he came back from family time and told me daddy hits him")
    assert answer.safety.category == "safeguarding"
    assert answer.answer.startswith(answer.safety.message or "x")
    assert citation_problems(answer) == []


def test_medical_questions_get_no_dose(fixture_assistant: Assistant) -> None:
    answer = fixture_assistant.ask("how much calpol can I give a 4 month old")
    assert answer.safety.category == "medical"
    assert "NHS 111" in answer.answer and "pharmacist" in answer.answer
    assert " ml" not in answer.answer and " mg" not in answer.answer


def test_diversity_keeps_one_chunk_per_section(fixture_assistant: Assistant) -> None:
    hits = fixture_assistant.retrieve("baby").hits
    sections = [(hit.chunk.doc_id, hit.chunk.anchor) for hit in hits]
    assert len(sections) == len(set(sections))


def test_answer_is_the_same_every_time(fixture_assistant: Assistant) -> None:
    first = fixture_assistant.ask("how do i settle a screaming baby")
    second = fixture_assistant.ask("how do i settle a screaming baby")
    assert first.answer == second.answer and first.citations == second.citations


def test_a_match_on_a_later_chunk_quotes_the_section_from_its_opening(
    tmp_path: Path, corpus: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # One long section, split into several chunks: the question matches words only its last
    # paragraph uses, but the corpus answers a heading's question in its opening sentences.
    filler = " ".join(
        f"Keep the bedtime routine the same on day {n}, with a bath, a song and a cuddle."
        for n in range(1, 16)
    )
    (corpus / "guidance" / "bedtime.md").write_text(
        "---\ntitle: Bedtime in a new home\ntype: guidance\nsummary: Settling at night.\n"
        "sources:\n- name: Bedtime\n  url: https://example.org/bedtime\n  publisher: Example\n"
        "reviewed: 2026-01-01\n---\n\n## How do I help a toddler settle at bedtime?\n\n"
        "A calm, predictable bedtime helps a toddler in a new home settle. "
        "Stay close and keep your voice low while the toddler falls asleep.\n\n"
        f"{filler}\n\nA nightlight shaped like a penguin or a glowing aquarium projector "
        "can comfort a toddler who fears the dark.\n"
    )
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "data")
    assert Pipeline(settings, open_store(settings), embedder).run().ok
    answer = Assistant.from_settings(settings, embedder=embedder).ask(
        "penguin nightlight or aquarium projector for a toddler who fears the dark at bedtime?"
    )
    assert answer.citations and answer.citations[0].doc_id == "guidance/bedtime"
    assert answer.citations[0].start == 0 or answer.citations[0].snippet.startswith("A calm")
    assert answer.answer.startswith("A calm, predictable bedtime")


def test_quoted_speech_stays_in_its_sentence_and_fragments_are_not_quoted() -> None:
    assert split_sentences('Name it: "Ball!" Then wait for him to try. Keep it light.') == [
        ('Name it: "Ball!" Then wait for him to try.', 0),
        ("Keep it light.", 43),
    ]
