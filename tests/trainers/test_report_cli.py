"""`nurture report` exactly as a trainer types it, over a seeded database."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from api.storage import Storage
from api.workspace import Workspace
from assistant.config import Settings
from assistant.service import Assistant
from tests.conftest import BIN, REPO, cli_env
from tests.trainers.seed import PASSPORT, SWIMMING

pytestmark = pytest.mark.slow


def report(settings: Settings, db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**cli_env(settings), "NURTURE_DB_PATH": str(db)}
    env.pop("NURTURE_TRAINER_KEYS", None)
    return subprocess.run(
        [str(BIN / "nurture"), "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_report_prints_the_workspace_tables(fixture_settings: Settings, seeded_db: Path) -> None:
    markdown = report(fixture_settings, seeded_db, "--days", "7")
    assert markdown.returncode == 0, markdown.stderr
    assert "## Unanswered questions" in markdown.stdout
    assert "## Review due" in markdown.stdout
    assert f"| {len(PASSPORT)} |" in markdown.stdout
    as_csv = report(fixture_settings, seeded_db, "--days", "7", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    block = as_csv.stdout.split("\n\n")[0]
    rows = list(csv.reader(io.StringIO(block)))
    assert rows[0] == ["# unanswered"]
    assert [row[0] for row in rows[2:]] == [str(len(PASSPORT)), str(len(SWIMMING))]
    assert str(seeded_db) not in markdown.stdout + as_csv.stdout


@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "400"], ["--format", "xml"]])
def test_report_refuses_bad_options(
    fixture_settings: Settings, seeded_db: Path, args: list[str]
) -> None:
    result = report(fixture_settings, seeded_db, *args)
    assert result.returncode != 0


def test_a_progress_callback_reaches_every_question(
    fixture_settings: Settings, fixture_assistant: Assistant, seeded_db: Path
) -> None:
    seen: list[tuple[int, int]] = []
    storage = Storage(seeded_db)
    try:
        Workspace(storage, fixture_assistant, fixture_settings).unanswered(
            7, lambda done, total: seen.append((done, total))
        )
    finally:
        storage.close()
    total = len(PASSPORT) + len(SWIMMING)
    assert seen and seen[-1] == (total, total)


def test_the_progress_bar_appears_only_after_a_second() -> None:
    from cli.main import _LateProgress

    now = [0.0]
    progress = _LateProgress("clustering", clock=lambda: now[0])
    with progress:
        progress(256, 10_000)
        assert progress.bar is None  # fast work shows nothing
        now[0] = 1.5
        progress(512, 10_000)
        assert progress.bar is not None
        assert progress.bar.tasks[0].completed == 512
