"""The workspace's JSON and CSV over real HTTP: keys, parameters, clusters, and privacy."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import ServerFactory
from tests.conftest import FIXTURE_CORPUS, Site
from tests.trainers.conftest import CARER_KEY, TRAINER_KEY
from tests.trainers.seed import PASSPORT, SWIMMING, UNHELPFUL_COMMENT

ENDPOINTS = ["unanswered", "unhelpful", "usage", "coverage", "review", "csv/unanswered"]


@pytest.fixture
def trainer(workspace_site: Site) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TRAINER_KEY}"}
    with httpx.Client(base_url=workspace_site.url, headers=headers, timeout=60) as client:
        yield client


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_key_is_401_and_a_carers_key_is_403(workspace_site: Site, endpoint: str) -> None:
    url = f"{workspace_site.url}/v1/trainers/{endpoint}"
    assert httpx.get(url).status_code == 401
    carer = httpx.get(url, headers={"Authorization": f"Bearer {CARER_KEY}"})
    assert carer.status_code == 403
    assert carer.json()["error"]["type"] == "forbidden"
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_trainer_key_does_not_open_the_carers_api(workspace_site: Site) -> None:
    response = httpx.post(
        f"{workspace_site.url}/v1/ask",
        json={"question": "can the baby sleep in our bed?"},
        headers={"Authorization": f"Bearer {TRAINER_KEY}"},
    )
    assert response.status_code == 401


def test_the_workspace_is_off_without_trainer_keys(make_server: ServerFactory) -> None:
    site = make_server()
    assert httpx.get(f"{site.url}/trainers").status_code == 404
    assert httpx.get(f"{site.url}/v1/trainers/unanswered").status_code == 404


def test_the_page_is_served_when_on(workspace_site: Site) -> None:
    page = httpx.get(f"{workspace_site.url}/trainers")
    assert page.status_code == 200
    assert "Trainers' workspace" in page.text


@pytest.mark.parametrize(
    "query",
    ["days=0", "days=366", "days=-1", "days=abc", "days=1.5", "days="],
)
@pytest.mark.parametrize("endpoint", ["unanswered", "unhelpful", "usage", "coverage"])
def test_bad_days_are_422(trainer: httpx.Client, endpoint: str, query: str) -> None:
    response = trainer.get(f"/v1/trainers/{endpoint}?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "invalid_request"


def test_unknown_csv_table_and_bad_try_are_422(trainer: httpx.Client) -> None:
    assert trainer.get("/v1/trainers/csv/answers").status_code == 422
    assert trainer.post("/v1/trainers/try", json={"question": ""}).status_code == 422
    assert trainer.post("/v1/trainers/try", json={"q": "x"}).status_code == 422


def test_unanswered_questions_are_clustered_by_meaning(trainer: httpx.Client) -> None:
    body = trainer.get("/v1/trainers/unanswered?days=7").json()
    assert body["declined"] == len(PASSPORT) + len(SWIMMING)
    groups = [set(cluster["questions"]) for cluster in body["clusters"]]
    assert set(PASSPORT) in groups
    assert set(SWIMMING) in groups
    first = body["clusters"][0]
    assert first["count"] == len(PASSPORT)
    assert first["closest"]["title"] and first["closest"]["section"]
    # Nothing in the fixture corpus is about passports: suggest a new document.
    assert first["suggest"] == "new_document"
    assert first["new_document"].startswith("---\ntitle: ")
    assert "Also asked as:\n- " in first["new_document"]


def test_questions_older_than_the_period_are_left_out(trainer: httpx.Client) -> None:
    assert trainer.get("/v1/trainers/unanswered?days=1").json()["declined"] == 0


def test_unhelpful_answers_grouped_by_cited_section(trainer: httpx.Client) -> None:
    body = trainer.get("/v1/trainers/unhelpful").json()
    assert body["groups"][0]["title"] == "Safer sleep for babies"
    assert body["groups"][0]["items"][0]["comment"] == UNHELPFUL_COMMENT


def test_usage_and_coverage_are_counts(trainer: httpx.Client) -> None:
    daily, safety = trainer.get("/v1/trainers/usage?days=7").json()["tables"]
    assert len(daily["rows"]) == 7
    assert sum(row[1] for row in daily["rows"]) == len(PASSPORT) + len(SWIMMING) + 1
    assert sum(row[2] for row in daily["rows"]) == len(PASSPORT) + len(SWIMMING)
    assert safety["columns"] == ["week_starting", "category", "messages"]
    cited, never = trainer.get("/v1/trainers/coverage").json()["tables"]
    assert cited["rows"][0][:2] == ["Safer sleep for babies", "Can the baby sleep in our bed?"]
    assert "guidance/crying" in [row[0] for row in never["rows"]]
    assert "guidance/safer-sleep" not in [row[0] for row in never["rows"]]


def test_csv_has_the_same_rows(trainer: httpx.Client) -> None:
    response = trainer.get("/v1/trainers/csv/unanswered?days=7")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["count", "closest_document", "closest_section", "similarity", "questions"]
    assert [row[0] for row in rows[1:]] == [str(len(PASSPORT)), str(len(SWIMMING))]


def test_no_response_holds_ids_or_paths(trainer: httpx.Client, workspace_site: Site) -> None:
    with sqlite3.connect(workspace_site.db_path) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM conversations")]
        ids += [row[0] for row in db.execute("SELECT id FROM answers")]
    assert ids
    bodies = [trainer.get(f"/v1/trainers/{name}?days=30").text for name in ENDPOINTS[:-1]]
    bodies += [
        trainer.get(f"/v1/trainers/csv/{name}").text
        for name in ("unanswered", "unhelpful", "usage_daily", "cited", "never_cited")
    ]
    bodies.append(trainer.post("/v1/trainers/try", json={"question": "sleep in our bed"}).text)
    for body in bodies:
        for stored_id in ids:
            assert stored_id not in body
        assert "/tmp" not in body and ".md" not in body and "corpus/" not in body


def test_text_past_retention_is_not_shown(make_server: ServerFactory, seeded_db, tmp_path) -> None:
    """Text older than NURTURE_RETENTION_DAYS is hidden even before the daily purge runs."""
    import shutil

    copy = tmp_path / "copy.db"
    shutil.copy(seeded_db, copy)
    site = make_server(db_path=copy, trainer_keys=TRAINER_KEY, retention_days=1)
    headers = {"Authorization": f"Bearer {TRAINER_KEY}"}
    body = httpx.get(f"{site.url}/v1/trainers/unanswered?days=30", headers=headers).json()
    assert body["declined"] == len(PASSPORT) + len(SWIMMING)  # the counts are kept
    assert body["clusters"] == []  # the text is gone
    unhelpful = httpx.get(f"{site.url}/v1/trainers/unhelpful", headers=headers).json()
    assert unhelpful["groups"][0]["items"][0]["comment"] is None


def test_the_workspace_never_writes_to_the_corpus(trainer: httpx.Client) -> None:
    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(path): (path.stat().st_mtime_ns, path.stat().st_size)
            for path in FIXTURE_CORPUS.rglob("*")
        }

    before = snapshot()
    for name in ENDPOINTS:
        assert trainer.get(f"/v1/trainers/{name}").status_code == 200
    assert trainer.post("/v1/trainers/try", json={"question": "passport"}).status_code == 200
    assert snapshot() == before


def test_question_vectors_are_kept_once_and_go_with_retention(
    fixture_settings, fixture_assistant, seeded_db, tmp_path
) -> None:
    """Embedded once (a restarted workspace reads them back), and deleted by the purge."""
    import shutil
    from datetime import UTC, datetime, timedelta

    from api.storage import Storage
    from api.workspace import Workspace

    copy = tmp_path / "copy.db"
    shutil.copy(seeded_db, copy)
    storage = Storage(copy)
    first = Workspace(storage, fixture_assistant, fixture_settings).unanswered(7)
    with sqlite3.connect(copy) as db:
        stored = db.execute("SELECT COUNT(*) FROM question_vectors").fetchone()[0]
    assert stored == len(PASSPORT) + len(SWIMMING)

    class NoModel:
        """The same assistant, but embedding anything fails: vectors must come from disk."""

        def __getattr__(self, name: str) -> object:
            return getattr(fixture_assistant, name)

        class embedder:
            name = fixture_assistant.embedder.name

            @staticmethod
            def embed_documents(texts: list[str]) -> None:
                raise AssertionError(f"embedded {len(texts)} texts again")

    again = Workspace(storage, NoModel(), fixture_settings).unanswered(7)
    assert again.extra["clusters"] == first.extra["clusters"]

    later = Storage(copy, retention_days=1, clock=lambda: datetime.now(UTC) + timedelta(days=3))
    later.purge_expired()
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT COUNT(*) FROM question_vectors").fetchone()[0] == 0
    storage.close()
    later.close()
