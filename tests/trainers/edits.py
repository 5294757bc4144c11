"""One trainer's edit to a copy of the shipped library: a new section that answers a question
the live library declines."""

from __future__ import annotations

from pathlib import Path

EDITED = "everyday-care/life-story-and-memory-box"
QUESTION = "how do i knit a baby blanket"
SECTION = """## How do I knit a baby blanket for the memory box?

Also asked as:
- knitting a blanket for my foster baby
- easy baby blanket knitting pattern for a beginner

To knit a baby blanket, cast on about 120 stitches of soft double knitting yarn on 4 mm needles
and knit every row (garter stitch) until the blanket is square. A knitted baby blanket made by
the foster family can go in the memory box with a note saying who knitted it and when. Keep
loose knitted blankets out of the cot: a baby under one sleeps with no loose bedding.

"""


def edit(corpus: Path, doc_id: str = EDITED) -> Path:
    """Add the knitting section at the end of the document."""
    path = corpus / f"{doc_id}.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\n\n" + SECTION, encoding="utf-8")
    return path
