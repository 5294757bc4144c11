"""Reading the trainer-edited rule files under `assistant/safety_rules/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_rule_file(path: Path) -> Any:
    """The YAML in `path`; a syntax mistake is reported with the file, line and column."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ValueError(
            f"{path}:{where}: not valid YAML ({problem}). A regular expression with ': ' or "
            "' #' in it must be quoted; check that line."
        ) from None
