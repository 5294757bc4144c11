"""Recall and precision of the redactor on a labelled set: `python -m bench.redaction_bench`.

Each line of the set is {"text", "pii": [{"text", "label"}]}. A personal detail counts as caught
only if none of its characters (spaces aside) survive. Precision is the share of replaced
characters that belong to some labelled detail. `--show` lists the misses and the replaced text
that was not personal, to judge by rule, never to tune sentence by sentence.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from api.redact import find_details

DEFAULT_SET = Path(__file__).parent.parent / "tests" / "data" / "redaction.jsonl"


@dataclass
class Score:
    details: int = 0
    caught: int = 0
    replaced_chars: int = 0
    personal_chars: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    caught_by_label: Counter[str] = field(default_factory=Counter)
    clean_texts: int = 0
    clean_changed: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)
    not_personal: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / max(self.details, 1)

    @property
    def precision(self) -> float:
        return self.personal_chars / max(self.replaced_chars, 1)


def score(path: Path = DEFAULT_SET) -> Score:
    result = Score()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = row["text"]
        covered = [False] * len(text)
        details = find_details(text)
        for detail in details:
            covered[detail.start : detail.end] = [True] * (detail.end - detail.start)
        personal = [False] * len(text)
        if not row["pii"]:
            result.clean_texts += 1
            result.clean_changed += bool(details)
        for pii in row["pii"]:
            result.details += 1
            result.by_label[pii["label"]] += 1
            spans = [
                range(i, i + len(pii["text"]))
                for i in range(len(text))
                if text.startswith(pii["text"], i)
            ]
            for span in spans:
                for k in span:
                    personal[k] = True
            if spans and all(covered[k] or text[k].isspace() for s in spans for k in s):
                result.caught += 1
                result.caught_by_label[pii["label"]] += 1
            else:
                result.misses.append((pii["label"], pii["text"]))
        for detail in details:
            inside = sum(personal[detail.start : detail.end])
            if not inside:
                result.not_personal.append(text[detail.start : detail.end])
        result.replaced_chars += sum(covered)
        result.personal_chars += sum(c and p for c, p in zip(covered, personal, strict=True))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_SET)
    parser.add_argument("--show", action="store_true", help="list misses and over-redactions")
    args = parser.parse_args()
    find_details("warm up")  # load the word lists outside the timing
    started = time.perf_counter()
    result = score(args.path)
    seconds = time.perf_counter() - started
    print(f"recall    {result.caught}/{result.details} = {result.recall:.3f}")
    print(f"precision {result.precision:.3f} (characters replaced that were personal)")
    print(f"texts without personal details changed: {result.clean_changed}/{result.clean_texts}")
    labels = sorted(result.by_label)
    print("by label: " + ", ".join(
        f"{label} {result.caught_by_label[label]}/{result.by_label[label]}" for label in labels
    ))  # fmt: skip
    print(f"{seconds:.2f} s for the set")
    if args.show:
        print("missed:", result.misses)
        print("replaced, not personal:", Counter(result.not_personal).most_common())


if __name__ == "__main__":
    main()
