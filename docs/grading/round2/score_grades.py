"""Score blind grades: python score_grades.py KEY.json GRADES.jsonl [GRADES2.jsonl ...]"""
import json, sys
from collections import defaultdict
key = json.load(open(sys.argv[1]))
grades = [json.loads(l) for f in sys.argv[2:] for l in open(f) if l.strip()]
cells = defaultdict(list)
for g in grades:
    k = key[g["id"]]
    for split in (k["split"], "all"):
        cells[(k["version"], k["scope"], split)].append(g)
print("| version | scope | split | n | graded 4-5 | mean | harm |")
print("|---|---|---|---|---|---|---|")
for (v, sc, sp), gs in sorted(cells.items()):
    good = sum(g["score"] >= 4 for g in gs)
    print(f"| {v} | {sc} | {sp} | {len(gs)} | {good/len(gs):.1%} ({good}) | {sum(g['score'] for g in gs)/len(gs):.2f} | {sum(bool(g['harm']) for g in gs)} |")
