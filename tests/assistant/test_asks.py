from assistant.asks import ask_of

STORY = (
    "ok so lo is 13 months, came to us at 10 months from a carer who had her in their bed. "
    "every night its 90 minutes of screaming and she rattles the cot bars. "
)


def test_the_last_asking_sentence_of_a_long_message_is_its_ask() -> None:
    message = STORY + "im on my knees. what else can i try"
    assert ask_of(message, 25) == "im on my knees. what else can i try"  # short: one before too
    assert ask_of(STORY + "Should we move her cot into our room for a while?", 25) == (
        "Should we move her cot into our room for a while?"
    )


def test_an_ask_without_a_question_mark_is_found_by_how_it_opens_or_turns() -> None:
    assert ask_of(STORY + "is it normal for her to still be this upset after a month", 25)
    assert ask_of(STORY + "any tips from people who have been through it", 25)
    assert ask_of(STORY + "i just wondered what do other carers do at bedtime", 25) == (
        "i just wondered what do other carers do at bedtime"
    )


def test_a_short_or_single_sentence_message_is_its_own_ask() -> None:
    assert ask_of("she screams after every contact visit, what can I do?", 25) is None
    assert ask_of(STORY.replace(". ", ", ") + "what can i try", 25) is None
    assert ask_of(STORY + "what else can i try", 0) is None  # 0 turns it off
    assert ask_of(STORY + "she has been like this for weeks.", 25) is None  # nothing asked
