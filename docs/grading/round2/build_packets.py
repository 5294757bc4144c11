"""Blind grading packets: the previous version's answers against the new ones, shuffled.

Usage: python build_packets.py PREV.jsonl NEW.jsonl OUTDIR
Held-out questions get both versions; dev questions the new one only. Two packets and one key.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def rows(path: str) -> dict[str, dict]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in map(json.loads, lines) if row}


def main(previous_file: str, new_file: str, out: str) -> None:
    previous, new = rows(previous_file), rows(new_file)
    items = []
    for question_id, row in new.items():
        items.append(("new", row))
        if row["split"] == "held-out":
            items.append(("prev", previous[question_id]))
    random.Random(27).shuffle(items)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    key = {}
    for number, half in enumerate((items[0::2], items[1::2]), start=1):
        lines = [f"# Grading packet {number} ({len(half)} items)\n"]
        for index, (version, row) in enumerate(half, start=1):
            item = f"p{number}-{index:03d}"
            key[item] = {
                "question_id": row["id"],
                "version": version,
                "scope": row["scope"],
                "split": row["split"],
            }
            lines.append(
                f"## {item}\n\n**Question:** {row['question']}\n\n**Answer:**\n\n"
                f"{row['answer']}\n\n---\n"
            )
        (target / f"packet{number}.md").write_text("\n".join(lines), encoding="utf-8")
    (target / "key.json").write_text(json.dumps(key, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
