"""Build blind grading packets: previous answers vs new, shuffled, ids anonymised.
usage: python build_packets.py PREV.jsonl NEW.jsonl OUTDIR
Held-out questions: both versions. Dev questions: new only. Two packets, one key."""
import json, random, sys
from pathlib import Path

prev = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[1])}
new = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[2])}
out = Path(sys.argv[3]); out.mkdir(parents=True, exist_ok=True)
items = []
for qid, row in new.items():
    items.append(("new", row))
    if row["split"] == "held-out":
        items.append(("prev", prev[qid]))
random.Random(27).shuffle(items)
key = {}
halves = [items[0::2], items[1::2]]
for n, half in enumerate(halves, start=1):
    lines = [f"# Grading packet {n} ({len(half)} items)\n"]
    for i, (version, row) in enumerate(half, start=1):
        gid = f"p{n}-{i:03d}"
        key[gid] = {"question_id": row["id"], "version": version, "scope": row["scope"], "split": row["split"]}
        lines.append(f"## {gid}\n\n**Question:** {row['question']}\n\n**Answer:**\n\n{row['answer']}\n\n---\n")
    (out / f"packet{n}.md").write_text("\n".join(lines))
(out / "key.json").write_text(json.dumps(key, indent=1))
print({n: len(h) for n, h in enumerate(halves, 1)})
