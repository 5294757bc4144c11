"""Blind grading packets for several answer sets at once, shuffled together.

Usage: python build_packets.py OUTDIR PACKETS LABEL=FILE.jsonl [LABEL=FILE.jsonl ...]

Each FILE is what `nurture eval --answers` wrote. Every answer in every file becomes one item;
items are shuffled with a fixed seed and dealt into PACKETS packets, so a grader cannot tell
which version or question set an item came from. `key.json` maps each item to its label,
question id, scope and split, for `score_grades.py`.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def rows(path: str) -> list[dict]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main(out: str, packets: int, sets: list[str]) -> None:
    items = []
    for spec in sets:
        label, _, path = spec.partition("=")
        items += [(label, row) for row in rows(path)]
    random.Random(27).shuffle(items)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    key = {}
    for number in range(1, packets + 1):
        share = items[number - 1 :: packets]
        lines = [f"# Grading packet {number} ({len(share)} items)\n"]
        for index, (label, row) in enumerate(share, start=1):
            item = f"p{number}-{index:03d}"
            key[item] = {
                "label": label,
                "question_id": row["id"],
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
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
