"""The shipped library: complete, checked, and covering the brief."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from ingest.load import load_corpus
from ingest.validate import validate_document
from tests.conftest import REPO, run_cli

CORPUS = REPO / "corpus"


def test_nurture_check_passes_on_the_shipped_corpus(tmp_path: Path) -> None:
    result = run_cli(Settings(corpus_dir=CORPUS, data_dir=tmp_path), "check")
    assert result.returncode == 0, result.stdout
    assert "0 error(s), 0 warning(s)" in result.stdout


def test_library_covers_the_brief() -> None:
    loaded = load_corpus(CORPUS)
    assert loaded.errors == []
    docs = {raw.id: validate_document(raw) for raw in loaded.documents}
    assert len(docs) >= 30
    for required in (
        "programmes/new-orleans-intervention-model",
        "programmes/pause",
        "programmes/childrens-house",
        "programmes/parents-under-pressure",
        "programmes/family-drug-and-alcohol-court",
        "programmes/minding-the-baby",
        "reference/glossary",
        "everyday-care/safer-sleep",
        "everyday-care/crying-and-coping",
        "getting-help/who-to-contact",
    ):
        assert required in docs, required
    for doc in docs.values():
        assert doc.sections[-1].heading_path[-1] == "Sources", doc.id
        assert doc.meta.sources and doc.meta.summary.endswith(".")
    glossary = docs["reference/glossary"]
    assert len([s for s in glossary.sections if s.heading_path]) >= 40  # one section per term
