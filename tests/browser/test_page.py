"""The carers' chat page in a real Chromium: streaming answers, citations, safety, feedback,
failures, browsing, accessibility and layout."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.conftest import Site

pytestmark = pytest.mark.browser

SLEEP_QUESTION = "can the baby sleep in our bed?"
SLEEP_QUOTE = (
    "Fostering services usually ask that a baby in foster care always sleeps in its own cot."
)
# Documents of the fixture corpus (tests/data/corpus), found by their `data-doc-id`, never by
# a title that an answer's sources or related links could also show.
SAFER_SLEEP = '[data-doc-id="guidance/safer-sleep"]'
CRYING = '[data-doc-id="guidance/crying"]'
FAMILY_TIME = '[data-doc-id="guidance/family-time"]'


def ask(page: Page, question: str) -> Locator:
    """Type a question, press Enter, and wait for the whole answer (or its failure): the
    locator is pinned to this answer (by position), whatever is asked after it."""
    answers = page.locator("#chatLog article.answer")
    before = answers.count()
    box = page.locator("#question")
    box.fill(question)
    box.press("Enter")
    return finished(answers.nth(before))


def finished(answer: Locator) -> Locator:
    expect(answer).to_have_attribute("data-state", re.compile("^(done|failed)$"))
    return answer


def stream_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_answer_streams_and_a_marker_opens_its_passage(page: Page) -> None:
    with page.expect_response("**/v1/ask/stream") as streamed:
        answer = ask(page, SLEEP_QUESTION)
    events = stream_events(streamed.value.text())
    assert [name for name, _ in events][0] == "start"
    assert [name for name, _ in events].count("delta") >= 2
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "delta") == done["answer"]

    expect(page.locator("#chatLog")).to_have_attribute("aria-live", "polite")
    expect(answer.locator(".answer-body")).to_contain_text(SLEEP_QUOTE)
    markers = answer.locator(".answer-body button.cite")
    assert markers.count() >= 1
    expect(answer.locator(f".sources button{SAFER_SLEEP}").first).to_be_visible()

    markers.first.click()
    sheet = page.locator("dialog#sheet")
    expect(sheet).to_be_visible()
    expect(sheet.locator("#sheetTitle")).to_have_text("Safer sleep for babies")
    expect(sheet).to_contain_text("Can the baby sleep in our bed?")
    expect(sheet).to_contain_text("The Lullaby Trust")
    expect(sheet.locator(".badge")).to_have_text("guidance")
    expect(sheet.locator("time")).to_have_attribute("datetime", "2026-10-01")
    expect(sheet.locator("time")).to_have_text("1 October 2026")
    expect(sheet.locator("mark").first).to_have_text(SLEEP_QUOTE)
    expect(sheet.locator("mark")).to_have_count(2)  # both sentences, one across a line break
    external = sheet.locator('a[href="https://www.lullabytrust.org.uk/"]')
    expect(external).to_have_attribute("target", "_blank")
    expect(external).to_have_attribute("rel", "noopener")

    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(markers.first).to_be_focused()


def test_server_text_is_never_parsed_as_html(page: Page) -> None:
    html = '<img src=x onerror="window.pwned=1"> <b>bold?</b>'

    def answer_with_html(route: Route) -> None:
        events = stream_events(route.fetch().text())
        start, done = events[0][1], events[-1][1]
        for citation in start["citations"] + done["citations"]:
            citation["snippet"] = f"{html} {citation['snippet']}"
            citation["title"] = html
        done["answer"] = f"{html} **really bold** [1]"
        body = "".join(
            f"event: {name}\ndata: {json.dumps(data)}\n\n"
            for name, data in [
                ("start", start),
                ("delta", {"text": done["answer"]}),
                ("done", done),
            ]
        )
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route("**/v1/ask/stream", answer_with_html)
    answer = ask(page, SLEEP_QUESTION)
    body = answer.locator(".answer-body")
    expect(body).to_contain_text(html)
    expect(body.locator("strong")).to_have_text("really bold")
    body.locator("button.cite").click()
    sheet = page.locator("dialog#sheet")
    expect(sheet.locator("#sheetTitle")).to_have_text(html)
    expect(sheet.locator(".passage")).to_contain_text(html)
    assert page.locator("img, b").count() == 0
    assert page.evaluate("window.pwned") is None


def test_follow_up_continues_the_conversation_and_new_conversation_clears(page: Page) -> None:
    with page.expect_response("**/v1/ask/stream") as first:
        ask(page, "how do I get a baby ready for family time?")
    assert "conversation_id" not in first.value.request.post_data_json
    conversation_id = stream_events(first.value.text())[0][1]["conversation_id"]

    with page.expect_request("**/v1/ask/stream") as follow_up:
        answer = ask(page, "and afterwards?")
    assert follow_up.value.post_data_json["conversation_id"] == conversation_id
    expect(answer.locator(f".sources button{FAMILY_TIME}").first).to_be_visible()
    expect(page.locator("#chatLog .turn")).to_have_count(2)

    page.locator("#newConversation").click()
    expect(page.locator("#chatLog .turn")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator("#question")).to_be_focused()

    with page.expect_request("**/v1/ask/stream") as fresh:
        ask(page, "how do I settle a screaming baby?")
    assert "conversation_id" not in fresh.value.post_data_json


def test_emergency_block_comes_first_with_a_call_link(page: Page) -> None:
    answer = ask(page, "my baby isn't breathing")
    emergency = answer.locator(".safety-emergency")
    expect(emergency).to_be_visible()
    expect(emergency).to_have_attribute("role", "alert")
    expect(emergency.locator('a[href="tel:999"]')).to_have_text("Call 999")
    expect(emergency).to_contain_text("This could be an emergency. Call 999 now.")
    order = answer.evaluate(
        """(article) => {
            const visible = [...article.children].filter(
                (child) => !child.matches('.visually-hidden') && child.offsetParent !== null);
            const body = article.querySelector('.answer-body');
            const safety = article.querySelector('.safety-emergency');
            return {
                first: visible[0] === safety,
                before: Boolean(safety.compareDocumentPosition(body)
                                & Node.DOCUMENT_POSITION_FOLLOWING),
                callFirst: safety.querySelector('a').compareDocumentPosition(
                    safety.querySelector('ul')) & Node.DOCUMENT_POSITION_FOLLOWING,
            };
        }"""
    )
    assert order["first"] and order["before"] and order["callFirst"]
    # Not shown twice. (Whether guidance follows, and which, is the composer's business and
    # is tested with it: this test is about the page.)
    expect(answer.locator(".answer-body")).not_to_contain_text("This could be an emergency")


def test_out_of_scope_question_is_an_honest_note_not_an_error(page: Page) -> None:
    answer = ask(page, "what time does the tip open on sunday")
    note = answer.locator(".answer-body.note")
    expect(note).to_be_visible()
    expect(note.locator(".note-label")).to_have_text("Not in our guidance")
    expect(note).to_contain_text("our guidance doesn't cover this")
    # Who to ask instead (the tip is the council's business), then the nearest library topics.
    expect(note).to_contain_text(re.compile("the service concerned|supervising social worker"))
    expect(note.locator("a.related-link").first).to_be_visible()
    expect(answer.locator("[data-failure]")).to_have_count(0)
    expect(answer.locator("[role=alert]")).to_have_count(0)

    related = note.locator("a.related-link").first
    doc_id = related.get_attribute("data-doc-id")
    related.click()
    expect(page.locator("#browseView article.document")).to_have_attribute("data-doc-id", doc_id)


def test_feedback_is_stored(page: Page, site: Site) -> None:
    answer = ask(page, SLEEP_QUESTION)
    answer_id = answer.get_attribute("data-answer-id")
    down = answer.locator(".feedback [data-rating=down]")
    up = answer.locator(".feedback [data-rating=up]")
    expect(down).to_have_accessible_name("No, this answer didn't help")
    expect(up).to_have_accessible_name("Yes, this answer helped")
    expect(down).to_have_attribute("aria-pressed", "false")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(up).to_have_attribute("aria-pressed", "false")
    comment = answer.locator(".feedback-form textarea")
    expect(comment).to_have_accessible_name("Anything you'd like to add? (optional)")
    expect(comment).to_be_focused()
    expect(answer.locator(".feedback-status")).to_contain_text("saved")
    with sqlite3.connect(site.db_path) as db:
        # The thumb alone is kept, even if the carer never adds a comment.
        rows = db.execute("SELECT rating, comment FROM feedback WHERE answer_id = ?", (answer_id,))
        assert rows.fetchall() == [("down", None)]
    comment.fill("It did not say what to do at night.")
    answer.locator(".feedback-form [type=submit]").click()
    expect(answer.locator(".feedback-status")).to_contain_text("Thank you")

    with sqlite3.connect(site.db_path) as db:
        rows = db.execute(
            "SELECT answer_id, rating, comment FROM feedback WHERE answer_id = ?", (answer_id,)
        ).fetchall()
    assert rows == [(answer_id, "down", "It did not say what to do at night.")]


def _abort(route: Route) -> None:
    route.abort("connectionrefused")


def _unavailable(route: Route) -> None:
    error = {"type": "index_not_ready", "message": "index not built", "request_id": "r1"}
    route.fulfill(status=503, json={"error": {**error, "fields": []}})


def _error_event(route: Route) -> None:
    """The real `start` event, then an `error` event instead of the answer."""
    start = route.fetch().text().split("\n\n")[0]
    error = {"type": "internal_error", "message": "could not be finished", "request_id": "a1"}
    body = f"{start}\n\nevent: error\ndata: {json.dumps(error)}\n\n"
    route.fulfill(status=200, content_type="text/event-stream", body=body)


def assert_emergency_numbers(block: Locator) -> None:
    """The fixed tap-to-call lines (failures.js), inside the failure itself."""
    numbers = block.locator("[data-numbers]")
    expect(numbers.locator('a[href="tel:999"]')).to_be_visible()
    expect(numbers.locator('a[href="tel:111"]')).to_have_text("Call NHS 111")
    expect(numbers.locator('a[href="tel:116123"]')).to_be_visible()


@pytest.mark.parametrize("failure", [_abort, _unavailable, _error_event], ids=lambda f: f.__name__)
def test_a_real_failure_says_so_with_the_emergency_numbers(page: Page, failure: object) -> None:
    page.route("**/v1/ask/stream", failure)
    answer = ask(page, SLEEP_QUESTION)
    block = answer.locator("[data-failure]")
    expect(block).to_be_visible()
    expect(block).to_have_attribute("role", "alert")
    expect(block.locator(".failure-title")).to_have_text("Nurture isn't working right now")
    assert_emergency_numbers(block)
    expect(answer.locator(".note")).to_have_count(0)

    page.unroute("**/v1/ask/stream")
    block.locator("[data-action=retry]").click()
    answer = finished(page.locator("#chatLog article.answer").last)
    expect(answer.locator("button.cite").first).to_be_visible()
    expect(page.locator("#chatLog .turn")).to_have_count(1)


def _failing(status: int) -> object:
    """A route handler answering with the API's error for `status` (503 or 429)."""
    kind = {503: "index_not_ready", 429: "rate_limited"}[status]
    error = {"type": kind, "message": "call 999 or NHS 111", "request_id": "f1", "fields": []}

    def handler(route: Route) -> None:
        route.fulfill(status=status, headers={"Retry-After": "7"}, json={"error": error})

    return handler


@pytest.mark.parametrize("status", [503, 429])
def test_every_503_or_429_failure_shows_the_999_and_111_lines(page: Page, status: int) -> None:
    """Asking, feedback, the library and a document: each failure carries the numbers."""
    answer = ask(page, SLEEP_QUESTION)
    page.route("**/v1/feedback", _failing(status))
    answer.locator(".feedback [data-rating=up]").click()
    feedback_failure = answer.locator(".feedback [data-failure]")
    expect(feedback_failure).to_be_visible()
    assert_emergency_numbers(feedback_failure)

    page.route("**/v1/ask/stream", _failing(status))
    failed = ask(page, SLEEP_QUESTION)
    expect(failed).to_have_attribute("data-state", "failed")
    assert_emergency_numbers(failed.locator("[data-failure]"))
    if status == 429:
        expect(failed.locator("[data-failure]")).to_contain_text("wait 7 seconds")

    page.route("**/v1/documents**", _failing(status))
    page.locator("#browseTab").click()
    assert_emergency_numbers(page.locator("#browseView [data-failure]"))
    page.evaluate("location.hash = '#browse/guidance/safer-sleep'")
    expect(page.locator("#browseView .back")).to_be_visible()
    assert_emergency_numbers(page.locator("#browseView [data-failure]"))


def test_browse_guidance_opens_a_document_and_back_returns_to_the_chat(page: Page) -> None:
    answer = ask(page, SLEEP_QUESTION)
    page.locator("#browseTab").click()
    browse = page.locator("#browseView")
    listed = page.request.get("/v1/documents").json()["documents"]
    expect(browse.locator(".doc-card")).to_have_count(len(listed))
    browse.locator(f".doc-card{SAFER_SLEEP} a").click()
    document = browse.locator(f"article.document{SAFER_SLEEP}")
    expect(document.locator("h2.doc-title")).to_have_text("Safer sleep for babies")
    section = document.locator("section#can-the-baby-sleep-in-our-bed")
    expect(section.locator("h3")).to_have_text("Can the baby sleep in our bed?")
    expect(section).to_contain_text("always sleeps in its own cot")
    source = document.locator(".facts a", has_text="The Lullaby Trust")
    expect(source).to_have_attribute("rel", "noopener")

    page.go_back()
    expect(browse.locator(".doc-card").first).to_be_visible()
    page.go_back()
    expect(page.locator("#chatView")).to_be_visible()
    expect(page.locator("#chatLog .turn")).to_have_count(1)  # the conversation is still there

    answer.locator(f".sources button{SAFER_SLEEP}").first.click()
    sheet = page.locator("dialog#sheet")
    sheet.locator("a[data-close-sheet]").click()
    expect(sheet).to_be_hidden()
    target = browse.locator("section#can-the-baby-sleep-in-our-bed")
    expect(target).to_have_class("doc-section target")
    expect(target).to_be_in_viewport()


def settle(page: Page) -> None:
    """Wait for animations (the sheet's slide-in) to finish."""
    page.wait_for_function("document.getAnimations().every((a) => a.playState !== 'running')")


def serious_violations(page: Page) -> list[str]:
    settle(page)  # contrast is measured on the settled page, not half-way through a fade
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def test_accessibility_scan_finds_no_serious_problems(page: Page) -> None:
    assert serious_violations(page) == []
    first = ask(page, SLEEP_QUESTION)
    for question, category in (
        ("my baby isn't breathing", "emergency"),
        ("the child told me her dad hits her", "safeguarding"),
        ("I feel like I might hurt the baby", "carer_crisis"),
        ("what is the dose of calpol for a 6 month old", "medical"),
    ):
        expect(ask(page, question).locator(f".safety-{category}")).to_have_count(1)
    ask(page, "what time does the tip open on sunday")
    # feedback open, so its form is scanned too
    first.locator(".feedback [data-rating=up]").click()
    expect(first.locator(".feedback-form")).to_be_visible()
    assert serious_violations(page) == []

    first.locator("button.cite").first.click()
    expect(page.locator("dialog#sheet")).to_be_visible()
    assert serious_violations(page) == []
    page.keyboard.press("Escape")

    page.locator("#browseTab").click()
    page.locator(f"#browseView .doc-card{CRYING} a").click()
    expect(page.locator(f"#browseView article.document{CRYING}")).to_be_visible()
    assert serious_violations(page) == []


def test_keyboard_only(page: Page) -> None:
    def focused(selector: str) -> bool:
        return page.evaluate(f"document.activeElement.matches({selector!r})")

    for _ in range(20):
        page.keyboard.press("Tab")
        if focused("#question"):
            break
    assert focused("#question"), "Tab never reached the question box"

    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.locator("#question")).to_have_value("first line\nsecond line")
    expect(page.locator("#chatLog .turn")).to_have_count(0)

    page.locator("#question").fill("")
    page.keyboard.type(SLEEP_QUESTION)
    page.keyboard.press("Enter")
    answer = finished(page.locator("#chatLog article.answer"))
    expect(answer).to_have_attribute("data-state", "done")
    expect(page.locator("#question")).to_have_value("")

    for _ in range(30):
        page.keyboard.press("Shift+Tab")
        if focused(".answer-body button.cite"):
            break
    assert focused(".answer-body button.cite"), "Shift+Tab never reached a citation marker"
    marker = page.locator(":focus")
    outline = marker.evaluate("(node) => getComputedStyle(node).outlineStyle")
    assert outline == "solid", "no visible focus style on the marker"

    page.keyboard.press("Enter")
    sheet = page.locator("dialog#sheet")
    expect(sheet).to_be_visible()
    expect(sheet.locator("#sheetClose")).to_be_focused()
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(marker).to_be_focused()


def test_layout_at_phone_and_desktop_widths(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    for width, height in ((375, 812), (1280, 900)):
        context = chromium.new_context(
            base_url=site.url, viewport={"width": width, "height": height}
        )
        page = context.new_page()
        page.goto("/")
        answer = ask(page, SLEEP_QUESTION)
        answer.evaluate("(answer) => answer.closest('.turn').scrollIntoView({block: 'start'})")
        page.screenshot(path=screenshots / f"chat-{width}.png")
        answer.locator("button.cite").first.click()
        expect(page.locator("dialog#sheet mark").first).to_be_visible()
        settle(page)
        page.screenshot(path=screenshots / f"sheet-{width}.png")
        context.close()

    context = chromium.new_context(base_url=site.url, viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto("/")
    scroll_width = "document.scrollingElement.scrollWidth"
    assert page.evaluate(scroll_width) <= 320
    answer = ask(page, SLEEP_QUESTION)
    ask(page, "my baby isn't breathing")
    ask(page, "what time does the tip open on sunday")
    assert page.evaluate(scroll_width) <= 320
    answer.locator("button.cite").first.click()
    assert page.evaluate(scroll_width) <= 320
    page.keyboard.press("Escape")
    page.locator("#browseTab").click()
    page.locator(f"#browseView .doc-card{SAFER_SLEEP} a").click()
    expect(page.locator(f"#browseView article.document{SAFER_SLEEP}")).to_be_visible()
    assert page.evaluate(scroll_width) <= 320
    context.close()
