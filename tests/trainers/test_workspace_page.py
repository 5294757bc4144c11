"""The trainers' workspace in a real Chromium: clusters from a seeded database, the preview of
an edited corpus answering differently, and an accessibility scan, at 1280 and 375 px."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluate import GoldSet
from assistant.service import Assistant
from assistant.store import open_store
from ingest.pipeline import Pipeline
from ingest.preview import preview
from tests.conftest import FIXTURE_CORPUS, Site, running, with_changes
from tests.trainers.conftest import CARER_KEY, TRAINER_KEY
from tests.trainers.edits import QUESTION, edit
from tests.trainers.seed import PASSPORT, SWIMMING

pytestmark = pytest.mark.browser
WIDTHS = [1280, 375]


def open_workspace(chromium: Browser, url: str, width: int, key: str = TRAINER_KEY) -> Page:
    context = chromium.new_context(base_url=url, viewport={"width": width, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto("/trainers")
    page.get_by_label("Trainer key").fill(key)
    page.get_by_role("button", name="Show").click()
    return page


def serious(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): " + "; ".join(n["target"][0] for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_workspace_shows_clusters_from_the_seeded_database(
    chromium: Browser, workspace_site: Site, screenshots: Path, width: int
) -> None:
    page = open_workspace(chromium, workspace_site.url, width)
    expect(page.locator("#workspace")).to_have_attribute("data-loaded", "true")
    clusters = page.locator('[data-ws="unanswered"] [data-cluster]')
    expect(clusters).to_have_count(2)
    expect(clusters.first.locator("h3")).to_contain_text(f"{len(PASSPORT)} ×")
    for question in PASSPORT:
        expect(clusters.first.locator("li", has_text=question)).to_have_count(1)
    expect(clusters.nth(1).locator("h3")).to_contain_text(f"{len(SWIMMING)} ×")
    expect(clusters.first.locator('[data-suggestion="new-document"]')).to_be_visible()
    # Charts with their numbers in a table, and a CSV for each table.
    expect(page.locator('svg[data-chart="questions"] rect')).to_have_count(30)
    expect(page.locator('table[data-table="usage_daily"] tbody tr')).to_have_count(30)
    with page.expect_download() as download:
        page.locator('[data-csv="unanswered"]').click()
    assert download.value.suggested_filename == "nurture-unanswered-30d.csv"
    page.screenshot(path=str(screenshots / f"trainers-workspace-{width}.png"), full_page=True)
    if width == WIDTHS[-1]:
        # Nothing wider than the phone's screen.
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width
    assert serious(page) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_carers_key_is_refused_on_the_page(chromium: Browser, workspace_site: Site) -> None:
    page = open_workspace(chromium, workspace_site.url, 1280, key=CARER_KEY)
    expect(page.locator("#keyStatus")).to_contain_text("carer's key")
    expect(page.locator("#workspace")).to_be_hidden()
    page.context.close()


@pytest.fixture
def draft_site(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Site]:
    """A temporary copy of the fixture corpus, indexed; then edited and previewed."""
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    settings = Settings(
        corpus_dir=corpus,
        data_dir=tmp_path / "data",
        db_path=tmp_path / "nurture.db",
        trainer_keys=TRAINER_KEY,
    )
    store = open_store(settings)
    assert Pipeline(settings, store, embedder).run().ok
    edit(corpus, "guidance/crying")
    gold = GoldSet(
        in_scope=[{"question": "how do i settle a screaming baby", "docs": ["guidance/crying"]}],
        out_of_scope=[{"question": QUESTION}],
        safety=[],
    )
    report = preview(settings, store, embedder, gold=gold)
    assert report.draft and report.documents_embedded == ["guidance/crying"]
    assistant = Assistant.from_settings(settings, embedder=embedder)
    served = with_changes(settings, rate_limit_per_minute=100_000)
    with running(create_app(served, assistant=assistant), served) as url:
        yield Site(url=url, db_path=tmp_path / "nurture.db")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_preview_shows_a_changed_answer_after_a_corpus_edit(
    chromium: Browser, draft_site: Site, screenshots: Path, width: int
) -> None:
    page = open_workspace(chromium, draft_site.url, width)
    expect(page.locator("#workspace")).to_have_attribute("data-loaded", "true")
    preview_box = page.locator('[data-ws="preview"]')
    expect(preview_box).to_contain_text("1 gold questions change")
    expect(preview_box).not_to_contain_text("null")
    changes = preview_box.locator('table[data-table="preview_changes"] tbody tr')
    expect(changes).to_have_count(1)
    expect(changes.locator("td").nth(1)).to_have_text(QUESTION)
    expect(changes.locator("td").nth(3)).to_contain_text("guidance/crying#how-do-i-knit")
    page.get_by_label("Try a question on the draft and the live guidance").fill(QUESTION)
    page.get_by_role("button", name="Ask both").click()
    compare = page.locator('[data-ws="compare"]')
    expect(compare).to_have_attribute("data-changed", "true")
    expect(compare.locator('[data-side="draft"]')).to_contain_text("cast on about 120 stitches")
    expect(compare.locator('[data-side="live"]')).not_to_contain_text("120 stitches")
    compare.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"trainers-preview-{width}.png"), full_page=True)
    assert serious(page) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
