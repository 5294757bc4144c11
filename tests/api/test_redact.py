"""`redact` as a pure function: every kind of personal detail goes, and nothing of it is left
behind; ordinary words (even capitalised ones, and names that are also words) stay."""

from __future__ import annotations

import pytest

from api.redact import find_details, redact


def assert_gone(text: str, secret: str, label: str) -> str:
    out = redact(text)
    assert f"[{label}]" in out, (text, out)
    # Nothing of the detail survives: no word, no group of digits.
    for piece in secret.replace(",", " ").replace("(", " ").replace(")", " ").split():
        if len(piece) > 1 and piece.lower() not in {"on", "of", "the", "my", "foster", "son"}:
            assert piece not in out.replace(f"[{label}]", ""), (text, out, piece)
    return out


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("we live at 14 Acacia Avenue now", "14 Acacia Avenue", "address"),
        ("mum is at Flat 2, 7 Mill Lane, Leeds since May", "Flat 2, 7 Mill Lane, Leeds", "address"),
        ("23 hawthorn close, bolton is her nan's", "23 hawthorn close, bolton", "address"),
        ("he goes to Little Acorns Nursery on Park Road", "Little Acorns Nursery", "place"),
        ("he goes to Little Acorns Nursery on Park Road", "Park Road", "address"),
        ("registered at Oakwood Medical Centre", "Oakwood Medical Centre", "place"),
        ("she starts at St Mary's Primary in September", "St Mary's Primary", "place"),
        ("postcode LS11 5QP", "LS11 5QP", "postcode"),
        ("postcode m14 5rt", "m14 5rt", "postcode"),
        ("my foster son jayden won't sleep", "jayden", "name"),
        ("Jayden (my foster son) won't sleep", "Jayden", "name"),
        ("Ellie-May has been crying all day", "Ellie-May", "name"),
        ("little Noah keeps waking", "Noah", "name"),
        ("how do I help Zoë with nightmares", "Zoë", "name"),
        ("baby Tia has reflux", "Tia", "name"),
        ("Mia, my foster baby, cries at contact", "Mia", "name"),
        ("is it normal that AMELIA bites?", "AMELIA", "name"),
        ("I really hope Hope settles", "Hope", "name"),
        ("Mrs Okafor from the nursery called", "Mrs Okafor", "name"),
        ("we saw Dr. McAllister today", "Dr. McAllister", "name"),
        ("her social worker is Siobhan O'Brien", "Siobhan O'Brien", "name"),
        ("Ionuț cries when his mum leaves", "Ionuț", "name"),
        ("she was born on the 3rd of April", "3rd of April", "date"),
        ("DOB 2025-04-03", "2025-04-03", "date"),
        ("DOB 03/04/25", "03/04/25", "date"),
        ("contact is on Tuesday 8th July", "Tuesday 8th July", "date"),
        ("born 14th November 2025", "14th November 2025", "date"),
        ("ring 0044 7700 900123", "0044 7700 900123", "phone"),
        ("ring 7700 900 123", "7700 900 123", "phone"),
        ("ring +44 7700900123", "+44 7700900123", "phone"),
        ("ring 07700 900123", "07700 900123", "phone"),
        ("ring (0113) 496 0000", "(0113) 496 0000", "phone"),
        ("ring 020 7946 0321", "020 7946 0321", "phone"),
        ("ring 07700-900-654", "07700-900-654", "phone"),
        ("email jo.bloggs@example.com", "jo.bloggs@example.com", "email"),
        ("she's @jaydens_mum on there", "@jaydens_mum", "handle"),
        ("NHS number 943 476 5919", "943 476 5919", "nhs number"),
        ("NHS number 9434765919", "9434765919", "nhs number"),
        ("case ref 12345678 please", "12345678", "reference"),
        ("complaint ref CMP-77120 is open", "CMP-77120", "reference"),
        ("her NI number is QQ 12 34 56 C", "QQ 12 34 56 C", "reference"),
    ],
)
def test_each_detail_is_replaced_with_nothing_left(text: str, secret: str, label: str) -> None:
    assert_gone(text, secret, label)


def test_phone_numbers_are_labelled_phone_and_leave_no_digits() -> None:
    for number in ("0044 7700 900123", "7700 900 123", "+44 7700900123"):
        out = redact(f"call me on {number} after six")
        assert out == "call me on [phone] after six", out


def test_names_in_follow_ups_and_sign_offs() -> None:
    assert redact("Hi, it's about Oscar again") == "Hi, it's about [name] again"
    assert redact("thanks - Denise") == "thanks - [name]"
    assert redact("what about kayden at night?") == "what about [name] at night?"


@pytest.mark.parametrize(
    "text",
    [
        "my son is tired after contact",
        "The baby is 6 weeks old",
        "Will she settle if I rock her?",
        "Grace period on the funding ends soon",
        "Mark my words, she knows",
        "Rose hip syrup, is it safe?",
        "Is Calpol safe for a 3 month old?",
        "We are seeing the GP on Monday about her reflux",
        "in May she turned 2 and she's 18 months behind",
        "we went to the Family Centre and the High Street",
        "she screams after every contact visit, what can I do?",
        "I hope she settles this summer",
        "we took her to Leeds for the day",
    ],
)
def test_ordinary_words_stay(text: str) -> None:
    assert redact(text) == text


def test_details_are_in_order_and_do_not_overlap() -> None:
    text = "Jayden, 14 Acacia Avenue, LS11 5QP, 07700 900123, born 3rd of April"
    details = find_details(text)
    assert [d.label for d in details] == ["name", "address", "postcode", "phone", "date"]
    assert all(a.end <= b.start for a, b in zip(details, details[1:], strict=False))
