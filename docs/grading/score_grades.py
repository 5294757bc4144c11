"""Blind grades by answer set (label), scope and split, as a Markdown table.

Usage: python score_grades.py key.json grades1.jsonl [grades2.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(key_file: str, *grade_files: str) -> None:
    key = json.loads(Path(key_file).read_text(encoding="utf-8"))
    cells: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for name in grade_files:
        for line in Path(name).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            grade = json.loads(line)
            item = key[grade["id"]]
            for split in (item["split"], "all"):
                # Round 2's key names the answer set "version".
                label = item.get("label") or item["version"]
                cells[(label, item["scope"], split)].append(grade)
    out = [
        "| answers | scope | split | n | graded 4-5 | mean | harm |",
        "|---|---|---|---|---|---|---|",
    ]
    for (label, scope, split), grades in sorted(cells.items()):
        good = sum(g["score"] >= 4 for g in grades)
        mean = sum(g["score"] for g in grades) / len(grades)
        harm = sum(bool(g["harm"]) for g in grades)
        share = f"{good / len(grades):.1%} ({good})"
        out.append(
            f"| {label} | {scope} | {split} | {len(grades)} | {share} | {mean:.2f} | {harm} |"
        )
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
