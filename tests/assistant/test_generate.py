"""The optional LLM generator, against a real HTTP server speaking the OpenAI chat protocol
(a remote LLM cannot run here, so this stand-in is the one mock in the suite)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluate import citation_problems
from assistant.models import Chunk
from assistant.service import Assistant
from tests.conftest import free_port, make_chunk, running


class FakeLLM:
    def __init__(self) -> None:
        self.reply = ""
        self.requests: list[dict] = []
        self.app = FastAPI()

        @self.app.post("/v1/chat/completions")
        async def complete(request: Request) -> dict:
            body = await request.json()
            self.requests.append(body)
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    with running(fake.app) as url:
        yield fake, f"{url}/v1"


def assistant_with(
    fixture_settings: Settings, embedder: SentenceTransformerEmbedder, base_url: str
) -> Assistant:
    settings = Settings(
        **{**fixture_settings.model_dump(), "llm_base_url": base_url, "llm_model": "test-model"}
    )
    return Assistant.from_settings(settings, embedder=embedder)


def section(doc_id: str, heading: str, text: str, **fields: object) -> Chunk:
    """A chunk holding the opening of a section under `heading`, the whole of `text`."""
    return make_chunk(doc_id, heading_path=[doc_id, heading], text=text, end=len(text), **fields)


def test_llm_reply_that_quotes_and_cites_is_kept(
    llm: tuple[FakeLLM, str], fixture_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    fake, url = llm
    fake.reply = (
        "A baby should be put down on his back for every sleep, day and night. [1] "
        "This sentence has no source and is never shown. "
        "A room temperature of 16 to 20 degrees suits most babies. [1][2] "
        "An invented claim citing nothing given. [9]"
    )
    answer = assistant_with(fixture_settings, embedder, url).ask("how should a baby sleep?")
    assert not answer.abstained
    assert answer.answer == (
        "A baby should be put down on his back for every sleep, day and night. [1] "
        "A room temperature of 16 to 20 degrees suits most babies. [1]"
    )
    assert citation_problems(answer) == []
    assert answer.citations[0].doc_id == "guidance/safer-sleep"
    system = fake.requests[-1]["messages"][0]["content"]
    assert "[1] Safer sleep for babies" in system and "Use only the numbered passages" in system
    assert fake.requests[-1]["model"] == "test-model"


def quoted_answer(fixture_settings: Settings, embedder: SentenceTransformerEmbedder) -> str:
    return (
        Assistant.from_settings(fixture_settings, embedder=embedder)
        .ask("how should a baby sleep?")
        .answer
    )


@pytest.mark.parametrize(
    "reply",
    [
        # Reworded: not a quote of the passage it cites.
        "Babies should always sleep on their backs in a flat cot. [1]",
        # Nothing at all.
        "NO ANSWER",
        # A quote, but about an alarming topic the question did not raise.
        "Call 999 now if the baby is not breathing. [1]",
    ],
)
def test_llm_reply_that_breaks_the_contract_falls_back_to_quoting(
    llm: tuple[FakeLLM, str],
    fixture_settings: Settings,
    embedder: SentenceTransformerEmbedder,
    reply: str,
) -> None:
    fake, url = llm
    fake.reply = reply
    answer = assistant_with(fixture_settings, embedder, url).ask("how should a baby sleep?")
    assert not answer.abstained and citation_problems(answer) == []
    assert answer.answer == quoted_answer(fixture_settings, embedder)


def test_the_fallback_is_built_once_at_start_up(
    fixture_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    from assistant.compose import ExtractiveGenerator, FallbackGenerator
    from assistant.generate import LLMGenerator

    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = assistant_with(fixture_settings, embedder, url).generator
    assert isinstance(generator, FallbackGenerator)
    assert [type(g) for g in generator.generators] == [LLMGenerator, ExtractiveGenerator]
    plain = Assistant.from_settings(fixture_settings, embedder=embedder).generator
    assert isinstance(plain, ExtractiveGenerator)


def test_unreachable_llm_falls_back_to_quoting(
    fixture_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    answer = assistant_with(fixture_settings, embedder, url).ask("how should a baby sleep?")
    assert not answer.abstained and citation_problems(answer) == []
    assert answer.citations[0].doc_id == "guidance/safer-sleep"


def test_contract_refuses_an_exact_quote_on_a_topic_the_question_did_not_raise(
    fixture_assistant: Assistant,
) -> None:
    from assistant.compose import Passage, Sentence, keeps_contract
    from assistant.topic_fit import default_topic_fit

    chunks = fixture_assistant.retriever.view().chunks.values()  # type: ignore[union-attr]
    coping = next(c for c in chunks if c.anchor == "what-if-i-feel-i-cannot-cope")
    passages = [Passage(coping, 1.0)]
    shaken = [Sentence("A baby must never be shaken.", 0)]
    accept = keeps_contract(default_topic_fit())
    assert not accept("how do i settle a screaming baby", passages, shaken, False)
    assert accept("is it ok to be angry and shake him?", passages, shaken, False)
    assert accept("how do i settle a screaming baby", passages, shaken, True)  # triaged
    reworded = [Sentence("Shaking a baby is never allowed.", 0)]
    assert not accept("is it ok to be angry and shake him?", passages, reworded, False)


def test_a_sections_verdict_answers_only_its_own_yes_no_question() -> None:
    from assistant.compose import ExtractiveGenerator, Passage

    text = (
        "Usually yes: many babies cry for an hour or more in the evening at this age. "
        "Crying like this tends to peak at around six weeks and then eases."
    )
    chunk = make_chunk(
        "crying", heading_path=["Crying", "Is an hour of crying normal?"], text=text, end=len(text)
    )
    compose = ExtractiveGenerator()

    def first(question: str, asked: bool) -> str:
        passage = Passage(chunk, 1.0, asked_directly=asked, question=0.9 if asked else 0.4)
        return compose.generate(question, [passage], [])[0].text

    assert first("is it normal for her to cry for an hour or more?", True).startswith("Usually yes")
    # Not the section's own question, a choice, or not a yes/no question: no verdict.
    assert first("is it normal for her to cry for an hour or more?", False).startswith("Many")
    assert first("is it colic or is she just tired?", True).startswith("Many babies")
    assert first("how long will the evening crying go on?", True).startswith("Many babies")


def test_a_verdict_is_dropped_for_a_question_asked_the_other_way_round() -> None:
    from assistant.compose import ExtractiveGenerator, Passage

    text = (
        "Usually yes: a short, well-planned break helps a child in the long run, because a "
        "rested carer stays calm and warm. A few unsettled days afterwards are normal."
    )
    chunk = section("respite", "He gets unsettled after respite. Is it still worth having?", text)
    compose = ExtractiveGenerator()

    def first(question: str) -> str:
        passage = Passage(chunk, 1.0, asked_directly=True, question=0.9)
        return compose.generate(question, [passage], [])[0].text

    assert first("is respite still worth having if he gets unsettled?").startswith("Usually yes")
    # "Is it bad?" asks the heading's question the other way round: "yes" would mean "bad".
    assert first("is respite bad for a baby's attachment?").startswith("A short, well-planned")


def test_a_verdicts_qualifier_is_not_left_to_open_the_sentence() -> None:
    from assistant.compose import ExtractiveGenerator, Passage

    text = (
        "Yes, but only for a trip abroad of more than 3 months or a change of surname: for "
        "either of those, a special guardian needs the written consent of everyone with "
        "parental responsibility or the court's permission."
    )
    chunk = section("sgo", "Do I need consent to go abroad?", text)
    passage = Passage(chunk, 1.0, asked_directly=False, question=0.4)
    quoted = ExtractiveGenerator().generate("can we go to spain with an sgo", [passage], [])
    assert quoted[0].text == text  # not "But only for a trip abroad ..."


def test_the_sentence_that_answers_the_ask_is_added_after_the_opening() -> None:
    from assistant.compose import ExtractiveGenerator, Passage

    text = (
        "Keep a baby's cot clear of pillows, bumpers and loose bedding for every sleep. "
        "A baby sleeping bag that fits well is a safe choice from birth. "
        "Choose the bag's tog for the room's temperature and the season. "
        "Do not put a blanket or duvet on top of a sleeping bag, which can make a baby too hot. "
        "Feel the baby's chest or the back of the neck to check she is not too hot or cold."
    )
    chunk = make_chunk(
        "sleep", heading_path=["Sleep", "Is a sleeping bag safe?"], text=text, end=len(text)
    )
    answering = (
        "Do not put a blanket or duvet on top of a sleeping bag, which can make a baby too hot."
    )
    # Cosines with the ask, as the index gives them: the fourth sentence answers it.
    scored = {
        "Keep a baby's cot clear of pillows, bumpers and loose bedding for every sleep.": 0.42,
        "A baby sleeping bag that fits well is a safe choice from birth.": 0.45,
        "Choose the bag's tog for the room's temperature and the season.": 0.40,
        answering: 0.61,
    }
    compose = ExtractiveGenerator(target_words=30)
    question = "her hands are cold at night, do i add a blanket over her sleeping bag?"

    def quoted(similarity: dict[str, float]) -> list[str]:
        passage = Passage(chunk, 1.0, similarity=similarity)
        return [sentence.text for sentence in compose.generate(question, [passage], [])]

    sentences = quoted(scored)
    assert sentences[-1] == answering and sentences[0].startswith("Keep a baby's cot clear")
    assert answering not in quoted({})  # no sentence vectors: the opening run alone
    # Not clearly better than what the run already quotes (margin 0.1): left as it was.
    assert answering not in quoted({**scored, answering: 0.52})
    # Below the floor: never added, however far ahead.
    assert answering not in quoted({key: value - 0.3 for key, value in scored.items()})
    off = ExtractiveGenerator(target_words=30, answer_floor=1.01)
    passage = Passage(chunk, 1.0, similarity=scored)
    assert answering not in [s.text for s in off.generate(question, [passage], [])]


def test_another_sections_sentence_is_added_only_when_it_matches_the_ask() -> None:
    from assistant.compose import ExtractiveGenerator, Passage

    jealous = (
        "Jealousy of a foster baby is common in carers' own children, and it usually eases "
        "with regular time alone with you. "
        "Name the feeling kindly and give your child a short, protected time with you every day."
    )
    feeding = (
        "A baby who is full turns away from the bottle and relaxes his hands. "
        "Let the baby stop when he is full rather than encouraging him to finish the bottle."
    )
    own = section(
        "jealousy",
        "My own child is jealous of the foster baby. What can I do?",
        jealous,
        topics=["feelings"],
    )
    other = section(
        "jealousy",
        "How do I know when the baby is full?",
        feeding,
        id="jealousy::1",
        anchor="full",
        topics=["feelings"],
    )
    question = "our son is 5 and jealous of the foster baby, now he wants a bottle too"
    stray = "Let the baby stop when he is full rather than encouraging him to finish the bottle."

    def quoted(stray_cosine: float, other_score: float) -> list[str]:
        cosines = dict.fromkeys((jealous + " " + feeding).split(". "), 0.45)
        near = {**cosines, stray: stray_cosine}
        passages = [
            Passage(own, 1.0, similarity=near),
            Passage(other, other_score, similarity=near),
        ]
        compose = ExtractiveGenerator(target_words=20)
        return [s.text for s in compose.generate(question, passages, [])]

    # A close second section that shares a word ("bottle") but not the meaning adds nothing.
    assert stray not in quoted(0.3, 0.97)
    assert all(not text.startswith("A baby who is full") for text in quoted(0.3, 0.97))
    # One whose sentence does match the ask may add it as a second point.
    assert stray in quoted(0.9, 0.97)
    # "The sentence that answers" comes from the section quoted, never from a weaker one.
    assert stray not in quoted(0.9, 0.85)


def test_an_alarming_sentence_is_never_added_to_a_gentle_question() -> None:
    from assistant.compose import ExtractiveGenerator, Passage

    text = (
        "Crying babies can be hard to be around, and most carers feel tired at times. "
        "Take turns with another adult where you can, and rest when the baby sleeps. "
        "Never shake a baby, however frustrated you feel, because it can cause brain damage."
    )
    chunk = make_chunk(
        "crying", heading_path=["Crying", "How do I cope?"], text=text, end=len(text)
    )
    shaking = text.split(". ")[-1]
    passage = Passage(
        chunk,
        1.0,
        similarity={
            "Crying babies can be hard to be around, and most carers feel tired at times.": 0.3,
            "Take turns with another adult where you can, and rest when the baby sleeps.": 0.3,
            shaking: 0.9,
        },
    )
    compose = ExtractiveGenerator(target_words=20)
    quoted = compose.generate("how do i cope with crying", [passage], [])
    assert quoted and not any("shake" in sentence.text for sentence in quoted)
