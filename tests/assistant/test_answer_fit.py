"""Answers that answer the carer's question, on the shipped library with the real model and a
real Chroma index. Each case here failed before the section composer, the question index and
topic fit (quotes about harm into a gentle question, the answering sentence left out, a
one-word question answered from random sections)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant import Assistant
from assistant.answer_sheet import answer_body
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.errors import QuestionError
from assistant.evaluate import citation_problems
from assistant.retrieve import Hit, add_question_matches
from assistant.scope import _pointers
from assistant.service import check_length
from assistant.topic_fit import default_topic_fit
from tests.conftest import make_chunk, run_cli, with_changes

ALARMING = re.compile(
    r"\b(999|harm|abuse|bruis\w*|shak\w*|lose control|disclos\w*|confront)\b", re.IGNORECASE
)


def words(answer_text: str) -> int:
    return len(re.sub(r"\[\d+\]", "", answer_text).split())


@pytest.mark.parametrize(
    "question",
    [
        "how much do I tell a 2 year old about why she lives with us?",
        "my 18 month foster daughter has started calling me mummy. we've been told to use our "
        "first names. do i correct her? it feels so cruel to say no im not",
    ],
)
def test_gentle_questions_get_no_alarming_text(shipped_assistant: Assistant, question: str) -> None:
    answer = shipped_assistant.ask(question)
    assert answer.safety.category == "none"
    assert not ALARMING.search(answer_body(answer)), answer.answer
    assert len({c.section for c in answer.citations}) <= 2


def test_is_it_normal_leads_with_the_answering_sentence(shipped_assistant: Assistant) -> None:
    answer = shipped_assistant.ask("is 2-3 hours of evening screaming at 6 weeks normal?")
    assert not answer.abstained and citation_problems(answer) == []
    first = answer.answer.split(" [")[0].lower()
    # The answer to "is it normal": it is common, it peaks and it eases.
    assert ("normal" in first or "common" in first) and "peak" in first, answer.answer
    assert "6 to 8 weeks" in answer.answer
    assert not ALARMING.search(answer.answer), "the shaking sentence stays out"
    assert 40 <= words(answer.answer) <= 140


def test_answer_is_one_coherent_section_in_its_own_order(shipped_assistant: Assistant) -> None:
    answer = shipped_assistant.ask("what does secure attachment actually look like in a toddler?")
    assert citation_problems(answer) == []
    main = answer.citations[0]
    assert main.doc_id == "basics/attachment"
    assert len(answer.citations) <= 2
    # The quotes come in the section's own order.
    snippet = " ".join(main.snippet.split())
    positions = [snippet.find(quote.rstrip(".")) for quote in main.quotes]
    assert positions == sorted(positions) and -1 not in positions
    assert 40 <= words(answer.answer) <= 140


def test_middling_evidence_gives_the_closest_section_honestly(
    shipped_assistant: Assistant,
) -> None:
    # The library has no section on riding a bike: the nearest guidance is quoted, saying so.
    answer = shipped_assistant.ask("how do i teach a 4 year old foster child to ride a bike")
    assert not answer.abstained
    assert answer.note and answer.note.startswith("Our guidance doesn't answer exactly that")
    assert answer.answer.startswith(answer.note)
    assert citation_problems(answer) == []
    assert len({c.doc_id for c in answer.citations}) == 1


@pytest.mark.parametrize(
    "question",
    [
        "new puppy cries all night in her crate, 9 weeks old cockapoo. do i leave her or go "
        "down to her",
        "my dad has dementia and keeps getting up at night and trying to go out",
        "my 15 year old (my own son) has started vaping, found one in his blazer",
        # An adult's own sleep and medicines, which once drew on baby-sleep and chickenpox.
        "my wife snores like a train and i end up on the sofa most nights, what can she try",
        "can i take paracetamol with my blood pressure tablets",
    ],
)
def test_true_out_of_scope_is_still_declined(shipped_assistant: Assistant, question: str) -> None:
    answer = shipped_assistant.ask(question)
    assert answer.abstained and answer.citations == []
    assert answer.note is None


@pytest.mark.parametrize("question", ["sleep?", "🙂🙂🙂", "??", "help"])
def test_too_little_to_go_on_asks_for_more(shipped_assistant: Assistant, question: str) -> None:
    answer = shipped_assistant.ask(question)
    assert answer.abstained and answer.abstain_reason == "needs_more"
    assert answer.citations == [] and "tell me a bit more" in answer.answer


def test_one_word_emergency_still_triages(shipped_assistant: Assistant) -> None:
    answer = shipped_assistant.ask("CHOKING!!")
    assert answer.safety.category == "emergency"
    assert answer.answer.startswith(answer.safety.message or "x")


def test_all_capitals_is_answered_like_any_question(shipped_assistant: Assistant) -> None:
    shouted = shipped_assistant.ask("HOW DO I SETTLE A BABY WHO SCREAMS EVERY EVENING")
    calm = shipped_assistant.ask("how do i settle a baby who screams every evening")
    assert not shouted.abstained and shouted.answer == calm.answer


def test_over_the_limit_names_the_limit(shipped_settings: Settings) -> None:
    limit = shipped_settings.max_question_chars
    with pytest.raises(QuestionError, match=f"the limit is {limit}") as caught:
        check_length("my baby cries " * (limit // 10), limit)
    assert caught.value.status_code == 422
    result = run_cli(shipped_settings, "ask", "my baby cries " * (limit // 10))
    assert result.returncode == 1 and f"the limit is {limit}" in result.stderr


def test_topic_fit_rule() -> None:
    fit = default_topic_fit()
    gentle = fit.asked_about("she has started calling me mummy")
    assert not fit.allows("If you ever feel you might lose control, put the baby down.", gentle)
    assert not fit.allows("Call 999 if the baby is not breathing.", gentle)
    assert fit.allows("Call 999 if the baby is not breathing.", gentle, triaged=True)
    asked = fit.asked_about("what should I do if I feel I'm losing control with the crying")
    assert fit.allows("If you ever feel you might lose control, put the baby down.", asked)


@pytest.mark.parametrize(
    ("sentence", "alarming"),
    [
        ("Clap, nod and shake your head as you talk, so she can copy you.", False),
        ("Shake the bottle well and test the milk on your wrist.", False),
        ("Kinship care often begins in a family crisis, with little warning.", False),
        ("Never shake a baby, however frustrated you feel.", True),
        ("A baby must never be shaken.", True),
        ("She was a bit shaken up after family time.", False),
        ("If you feel you might shake her, put her down somewhere safe.", True),
        ("If you are in crisis yourself, the Samaritans answer day and night.", True),
    ],
)
def test_everyday_senses_of_shake_and_crisis_are_not_alarming(
    sentence: str, alarming: bool
) -> None:
    fit = default_topic_fit()
    gentle = fit.asked_about("how do i get her to point and wave")
    assert fit.allows(sentence, gentle) is not alarming


@pytest.mark.parametrize(
    "question",
    [
        "my 16yo foster daughter wants her nose pierced and says her dad agreed. who decides",
        "our 11 year old has started refusing to go to school, how do i get her back in",
        "a 13-year-old in our care keeps staying out after curfew",
        # A pet, a plant, an elderly parent or a computer, and no young child.
        "adopting a rescue dog next month, how do we help him settle in",
        "our two rabbits are brothers but keep fighting",
        "we are fostering kittens for the rspca and one wont eat",
        "mums care home says visiting is only 2-4pm, can i challenge that",
        "the garden centre nursery has no staff on the tills",
        "the social worker sent an email attachment i cant open",
    ],
)
def test_a_question_not_about_a_young_child_is_declined(
    shipped_assistant: Assistant, question: str
) -> None:
    answer = shipped_assistant.ask(question)
    assert answer.abstained and answer.abstain_reason == "out_of_scope"
    assert answer.citations == []


@pytest.mark.parametrize(
    ("question", "older_only"),
    [
        ("the baby's brother (9) is jealous and keeps pinching her", False),
        ("my foster son (3) hits me when hes upset, what helps", False),
        ("I've fostered for 12 years and this 4 year old is the hardest", False),
        ("fostered for 20 years, first time with a newborn", False),
        ("our 10yo and 12 yo are arguing constantly about chores", True),
        ("lo is 2 and her 6 year old brother is placed with another carer", False),
        ("hes 12 and keeps vaping in his room", True),
        ("how do i talk to a teenager about contact", True),
    ],
)
def test_older_children_are_told_apart_from_young_ones(
    shipped_assistant: Assistant, question: str, older_only: bool
) -> None:
    assert shipped_assistant.scope is not None
    assert shipped_assistant.scope.only_older_children(question) is older_only


def test_one_of_the_librarys_own_questions_is_answered_plainly(
    shipped_assistant: Assistant,
) -> None:
    # Word for word an "also asked as" phrasing, with no word saying it is about a child, and
    # close to an uncovered topic ("never complains" / complaints): answered from its own
    # section, not declined and not hedged as "the closest guidance".
    asked = "she does everything i tell her and never complains is that ok"
    assert shipped_assistant.retriever is not None
    view = shipped_assistant.retriever.view()
    own = next(record for record in view.question_list if record.text == asked)
    answer = shipped_assistant.ask(asked)
    assert not answer.abstained and answer.note is None
    assert answer.citations[0].doc_id == own.doc_id


@pytest.mark.parametrize(
    "question",
    [
        "toddler gags on lumpy food and only eats purees",
        "is tepid sponging still recommended for fevers",
    ],
)
def test_the_librarys_own_words_count_as_english(
    shipped_assistant: Assistant, question: str
) -> None:
    # "toddler" and "purees" are not whole words in the model's vocabulary, but the library
    # uses them: the question is read, not answered with "Nurture reads English only".
    assert not shipped_assistant.triage.unreadable(question)
    assert shipped_assistant.ask(question).abstain_reason != "unreadable"


def test_the_guides_own_example_is_answered_from_family_time(shipped_assistant: Assistant) -> None:
    # The carer's question the product was specified with: a toddler-sleep section about
    # screaming at night must not win over family time because both say "screams".
    answer = shipped_assistant.ask("she screams after every contact visit, what can I do?")
    assert not answer.abstained and answer.safety.category == "none"
    assert answer.citations[0].doc_id == "everyday-care/family-time-contact"
    # The section's own question is the carer's (cosine 0.79): an answer, not "the closest".
    assert answer.note is None


def test_a_figure_of_speech_is_searched_for_what_it_means(shipped_assistant: Assistant) -> None:
    # "dead good" had been searched as "dead" and the question declined as not covered.
    answer = shipped_assistant.ask("she's dead good at sharing now, is that normal at 3")
    assert not answer.abstained and answer.safety.category == "none"
    assert "shar" in answer.answer.lower()


def test_a_red_flag_list_is_quoted_whole_with_its_lead_in(shipped_assistant: Assistant) -> None:
    # The canonical 999 list is a lead-in sentence and bullet items: quoted as one unit, in its
    # own paragraph, never as a stray item and never cut off part-way.
    answer = shipped_assistant.ask("When should I ring 999 rather than 111?")
    assert not answer.abstained and citation_problems(answer) == []
    assert "straight away if a baby or young child:\n- stops breathing;\n" in answer.answer
    assert "\n- may have been seriously injured, by accident or by someone. [" in answer.answer


def test_a_typo_does_not_sink_a_covered_question(shipped_assistant: Assistant) -> None:
    """ "shoud" is "should", not a word the library never uses (which would count against the
    evidence, as a sign the question is about something else)."""
    typed = shipped_assistant.ask(
        "shoud i be writing down how he is after every single contact or is that overkill"
    )
    assert not typed.abstained, typed.answer
    assert "family time" in typed.citations[0].section.lower()


def _hit(name: str, score: float, question: float) -> Hit:
    return Hit(make_chunk(name), score, question_dense=question)


def test_a_close_runner_up_asked_for_in_so_many_words_goes_first() -> None:
    """Passage score ties, but the runner-up's own question matches clearly better: it leads.
    A runner-up that is not close, or not clearly better asked for, stays where it is."""
    ranked = add_question_matches(
        [_hit("night-terrors", 0.70, 0.67), _hit("after-family-time", 0.55, 0.78)],
        {},
        {},
        alpha=1.0,
        weight=0.5,
    )
    assert [h.chunk.doc_id for h in ranked] == ["after-family-time", "night-terrors"]
    far = add_question_matches(
        [_hit("a", 0.90, 0.60), _hit("b", 0.40, 0.75)], {}, {}, alpha=1.0, weight=0.5
    )
    assert [h.chunk.doc_id for h in far] == ["a", "b"]
    similar = add_question_matches(
        [_hit("a", 0.70, 0.70), _hit("b", 0.60, 0.75)], {}, {}, alpha=1.0, weight=0.5
    )
    assert [h.chunk.doc_id for h in similar] == ["a", "b"]


def test_the_clearer_question_is_looked_for_among_sections_not_chunks() -> None:
    """The best section's later chunks do not push a clearly better asked section out of reach,
    and a much clearer question may close a wider score gap ("the nappy rash is my fault, should
    I write it down" goes to a parent criticising my care, not to treating nappy rash)."""

    def chunk_of(section: str, index: int, score: float, question: float) -> Hit:
        chunk = make_chunk(section, id=f"{section}::{index}", chunk_index=index)
        return Hit(chunk, score, question_dense=question)

    hits = [
        chunk_of("treating-nappy-rash", 0, 0.70, 0.61),
        chunk_of("treating-nappy-rash", 1, 0.68, 0.61),
        chunk_of("treating-nappy-rash", 2, 0.66, 0.61),
        chunk_of("criticised-by-a-parent", 0, 0.56, 0.76),
    ]
    ranked = add_question_matches(hits, {}, {}, alpha=1.0, weight=0.0)
    assert ranked[0].chunk.doc_id == "criticised-by-a-parent"
    # Not when the runner-up is only a little clearer at that distance.
    hits[3] = chunk_of("criticised-by-a-parent", 0, 0.56, 0.72)
    ranked = add_question_matches(hits, {}, {}, alpha=1.0, weight=0.0)
    assert ranked[0].chunk.doc_id == "treating-nappy-rash"


def test_a_long_message_is_answered_from_the_question_it_ends_with(
    shipped_assistant: Assistant,
) -> None:
    # The story comes first and the ask last. Matched whole, the message went to keeping a
    # friendly toddler safe on outings (it shares "goes off with anybody"); the ask is how to
    # become her safe person.
    answer = shipped_assistant.ask(
        "our little one is nearly 2 and has been with us since march. she goes off with "
        "anybody, the lady in the post office, the delivery driver, she never checks where i "
        "am. everyone says how confident she is but i worry. what can i do every day to help "
        "her learn that i am her safe person"
    )
    assert not answer.abstained and answer.safety.category == "none"
    assert answer.citations[0].section == "How can I help him learn that I'm his safe person?"


def test_the_section_whose_question_was_asked_keeps_first_place_over_a_yes_no_heading(
    shipped_assistant: Assistant,
) -> None:
    # "Is that normal?" once moved the answer to a yes/no-headed section about babies crying;
    # the carer asked the library's question about their own grief, nearly word for word.
    answer = shipped_assistant.ask(
        "the baby went back to her mum last week and i cant stop crying, is that normal"
    )
    assert answer.citations[0].doc_id == "everyday-care/moves-and-transitions"
    assert answer.answer.startswith("Yes:")  # the verdict answers the carer's own question


def test_a_verdict_is_not_quoted_under_a_question_it_does_not_answer(
    shipped_assistant: Assistant,
) -> None:
    # The section opens "Yes, with written permission:", the answer to "can nursery give
    # medicine?". Asked who fills the form in, "Yes" reads as nonsense: the rest is quoted.
    answer = shipped_assistant.ask(
        "who fills in the nursery's medicine form, me or the social worker"
    )
    assert answer.citations[0].section.startswith("Can nursery give my foster child medicine")
    assert answer.answer.startswith("In England, the Early Years Foundation Stage rules")
    assert citation_problems(answer) == []
    asked = shipped_assistant.ask("can nursery give my foster child calpol")
    assert asked.answer.startswith("Yes, with written permission:")
    # A choice between two things is not answered "Often yes".
    choice = shipped_assistant.ask(
        "how do i get a speech therapy referral for my foster child, is it the hv or the lac nurse"
    )
    assert choice.citations[0].section.startswith("Can I refer a foster child to speech")
    assert not choice.answer.lower().startswith(("often yes", "yes", "no"))


def test_the_sentence_that_answers_is_quoted_even_mid_section(
    shipped_assistant: Assistant,
    shipped_settings: Settings,
    embedder: SentenceTransformerEmbedder,
) -> None:
    """The library says not to put a blanket over a sleeping bag in the middle of a section;
    the run of the best section's opening sentences leaves it out, the sentence index finds it."""
    question = "her hands feel cold at night, should i put a blanket on top of her sleeping bag"
    answer = shipped_assistant.ask(question)
    assert answer.safety.category == "none" and not answer.abstained
    assert citation_problems(answer) == []
    body = answer_body(answer)
    assert re.search(r"not put a blanket or duvet on top of a sleeping bag", body), body
    assert 40 <= words(body) <= 140
    # With the sentence index not consulted, the same question misses it.
    without = Assistant.from_settings(
        with_changes(shipped_settings, answer_sentence_floor=1.01),
        embedder=embedder,
    ).ask(question)
    assert "on top of a sleeping bag" not in answer_body(without)


@pytest.mark.parametrize(
    ("question", "subject_only"),
    [
        ("our rescue dog howls when we go out", True),
        ("my toddler is scared of our dog, what can i do", False),
        ("he keeps squeezing the cat too hard, is that a trauma thing", False),
        ("she hits the dog when shes cross", False),
        ("the dog keeps growling at our 2 year old foster son", False),
        ("my mum has dementia and forgets my foster baby's name", False),
        ("my mum is in a care home and i cant visit her as often", True),
        # An age is the animal's when it says so, or a litter's; otherwise the child's.
        ("we foster kittens for a rescue and one of the 5 week olds wont eat", True),
        ("our 8 week old puppy cries all night in his crate", True),
        ("our rescue greyhound wont stop barking at the postman", True),
        ("the cat scratched my 3 year old, should i get rid of it", False),
        ("my 10 week old cries whenever the dog barks", False),
    ],
)
def test_pets_and_elderly_relatives_are_told_apart_from_the_child(
    shipped_assistant: Assistant, question: str, subject_only: bool
) -> None:
    assert shipped_assistant.scope is not None
    assert (shipped_assistant.scope.uncovered_subject(question) is not None) is subject_only


@pytest.mark.parametrize(
    ("question", "pointer"),
    [
        ("our rescue dog howls when we go out", "A vet"),
        ("what is the fostering allowance for a baby", "your fostering service"),
        ("my 15 year old has gcse mocks and wont revise", "their school"),
        ("my mum has dementia and keeps wandering at night", "adult social care"),
        ("mums care home says visiting is only 2-4pm, can i challenge that", "adult social care"),
        ("the garden centre nursery has no staff on the tills", "a general source"),
    ],
)
def test_a_decline_says_who_can_answer_instead(
    shipped_assistant: Assistant, question: str, pointer: str
) -> None:
    answer = shipped_assistant.ask(question)
    assert answer.abstained and answer.abstain_reason == "out_of_scope"
    assert pointer in answer.answer
    # A topic we know we do not cover gets its pointer, not library titles.
    assert "supervising social worker is a good first person" not in answer.answer


def test_a_decline_far_from_every_listed_topic_gets_the_general_pointer(
    shipped_assistant: Assistant,
) -> None:
    scope = shipped_assistant.scope
    assert scope is not None
    answer = shipped_assistant.ask("slow cooker recipe for a family of six")
    assert "a general source" in answer.answer
    # Nothing near enough in meaning: the general pointer (the supervising social worker).
    nowhere = np.zeros(scope.vectors.shape[1], dtype=np.float32)
    assert scope.who_to_ask(None, nowhere) is None


def test_a_pointer_for_a_topic_that_is_not_listed_is_refused() -> None:
    with pytest.raises(ValueError, match="not in 'topics'"):
        _pointers([{"text": "Ask a vet.", "topics": ["pet care"]}], ["pets"])
    with pytest.raises(ValueError, match="has no 'text'"):
        _pointers([{"topics": ["pets"]}], ["pets"])
