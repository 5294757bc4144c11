"""A real Chromium (Debian's /usr/bin/chromium, driven by Playwright; see tests/chromium.py) and
a real uvicorn server on loopback, serving the chat page over the small fixture corpus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import Site


@pytest.fixture
def page(chromium: Browser, site: Site) -> Iterator[Page]:
    """A fresh browser context (no shared storage) on the chat page; uncaught script errors
    fail the test."""
    context = chromium.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto("/")
    yield tab
    context.close()
    assert not errors, f"script errors on the page: {errors}"
