"""The chat page's files, read as text: native ES modules, one table of failure messages, colours
only as tokens. (Their behaviour is tested in a real browser, tests/browser/.)"""

from __future__ import annotations

import re

from tests.conftest import REPO

STATIC = REPO / "api" / "static"
MODULES = sorted((STATIC / "js").glob("*.js"))


def test_the_page_loads_one_module_entry_point_and_no_classic_scripts() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script type="module" src="/static/js/main.js">']
    assert not (STATIC / "app.js").exists()


def test_every_module_is_imported_by_another_or_is_the_entry_point() -> None:
    assert len(MODULES) >= 7
    imported = {
        name
        for module in MODULES
        for name in re.findall(r'from "\./([a-z]+\.js)"', module.read_text(encoding="utf-8"))
    }
    assert imported | {"main.js"} == {module.name for module in MODULES}


def test_failure_messages_are_written_once_in_the_failure_table() -> None:
    sources = {module.name: module.read_text(encoding="utf-8") for module in MODULES}
    assert "failures.js" in sources
    said = {name: text.count("isn't working right now") for name, text in sources.items()}
    assert said == {name: (1 if name == "failures.js" else 0) for name in sources}
    for number in ('"tel:999"', '"tel:111"'):
        assert number in sources["failures.js"]


def _outside_root(css: str) -> str:
    root = re.search(r":root\s*\{[^}]*\}", css)
    assert root, "style.css defines its tokens in one :root block"
    return css[: root.start()] + css[root.end() :]


def test_colours_are_tokens_defined_once_in_root() -> None:
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "style.css").read_text(encoding="utf-8"), flags=re.S)
    rest = _outside_root(css)
    assert re.findall(r"#[0-9a-fA-F]{3,8}\b", rest) == []
    assert re.findall(r"\b(?:rgba?|hsla?)\(", rest) == []
    root = re.search(r":root\s*\{[^}]*\}", css)
    assert root
    defined = re.findall(r"^\s*(--[a-z-]+)\s*:", root.group(), flags=re.M)
    assert len(defined) == len(set(defined)), "a token is defined twice"
    used = set(re.findall(r"var\((--[a-z-]+)\)", css))
    assert used <= set(defined), f"undefined tokens: {used - set(defined)}"
