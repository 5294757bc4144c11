"""What is stored is redacted (read back from the SQLite file), and logs carry no questions."""

from __future__ import annotations

import logging
import sqlite3

import httpx
import pytest

from api.redact import redact
from api.storage import MIGRATIONS
from tests.api.conftest import ServerFactory

DETAILS = {
    "email": ("write to jo.bloggs@example.com please", "jo.bloggs@example.com", "[email]"),
    "mobile": ("my number is 07700 900123", "07700 900123", "[phone]"),
    "landline": ("ring 0121 496 0000 after six", "0121 496 0000", "[phone]"),
    "international": ("or +44 7700 900456", "7700 900456", "[phone]"),
    "postcode": ("we live in SW1A 1AA", "SW1A 1AA", "[postcode]"),
    "nhs number": ("her NHS number is 943 476 5919", "943 476 5919", "[nhs number]"),
    "date of birth": ("she was born on 03/04/2024", "03/04/2024", "[date]"),
    "written date": ("DOB 12 March 2024", "12 March 2024", "[date]"),
    "foster son": ("my foster son Jayden screams at night", "Jayden", "[name]"),
    "named": ("the baby is called Mia Rose", "Mia Rose", "[name]"),
}


@pytest.mark.parametrize("kind", sorted(DETAILS))
def test_each_kind_of_detail_is_redacted_in_the_database(
    make_server: ServerFactory, kind: str
) -> None:
    text, secret, label = DETAILS[kind]
    site = make_server()
    with httpx.Client(base_url=site.url, timeout=30) as http:
        answer = http.post("/v1/ask", json={"question": f"{text}. how do i settle her?"}).json()
        http.post(
            "/v1/feedback",
            json={"answer_id": answer["answer_id"], "rating": "up", "comment": text},
        )
    database = sqlite3.connect(site.db_path)
    question = database.execute("SELECT question FROM answers").fetchone()[0]
    comment = database.execute("SELECT comment FROM feedback").fetchone()[0]
    dump = "\n".join(database.iterdump())
    assert secret not in dump
    assert label in question and label in comment


def test_no_question_text_when_storing_is_off(make_server: ServerFactory) -> None:
    site = make_server(store_questions=False)
    with httpx.Client(base_url=site.url, timeout=30) as http:
        first = http.post(
            "/v1/ask", json={"question": "how do I get a baby ready for family time? (q-5521)"}
        )
        conversation = first.json()["conversation_id"]
        follow = http.post(
            "/v1/ask", json={"question": "and afterwards?", "conversation_id": conversation}
        )
    assert follow.json()["citations"][0]["doc_id"] == "guidance/family-time"
    database = sqlite3.connect(site.db_path)
    assert database.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 2
    stored = database.execute("SELECT question FROM answers WHERE question IS NOT NULL")
    assert stored.fetchall() == []
    assert "q-5521" not in "\n".join(database.iterdump())


def test_logs_never_contain_the_question(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "zebra-crossing-question-7731"
    site = make_server()
    with caplog.at_level(logging.DEBUG), httpx.Client(base_url=site.url, timeout=30) as http:
        http.post("/v1/ask", json={"question": f"my baby isnt breathing {secret}"})
        http.post("/v1/ask/stream", json={"question": f"how to settle {secret}"})
        http.post(
            "/v1/chat/completions",
            json={"model": "n", "messages": [{"role": "user", "content": secret}]},
        )
        http.post("/v1/ask", json={"question": secret * 600})
    assert any(record.name == "api.access" for record in caplog.records)
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_schema_is_migrated_once(make_server: ServerFactory) -> None:
    site = make_server()
    make_server(db_path=site.db_path)  # the same file opened again
    database = sqlite3.connect(site.db_path)
    assert database.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_feedback_is_one_record_per_answer(make_server: ServerFactory) -> None:
    site = make_server()
    with httpx.Client(base_url=site.url, timeout=30) as http:
        answer_id = http.post("/v1/ask", json={"question": "what is pause"}).json()["answer_id"]
        first = http.post("/v1/feedback", json={"answer_id": answer_id, "rating": "up"})
        second = http.post(
            "/v1/feedback",
            json={"answer_id": answer_id, "rating": "down", "comment": "it was long"},
        )
        third = http.post("/v1/feedback", json={"answer_id": answer_id, "rating": "down"})
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    rows = sqlite3.connect(site.db_path).execute("SELECT rating, comment FROM feedback").fetchall()
    assert rows == [("down", "it was long")]


def test_redact_leaves_ordinary_words_alone() -> None:
    assert redact("my son is tired after contact") == "my son is tired after contact"
    assert redact("The baby is 6 weeks old") == "The baby is 6 weeks old"
