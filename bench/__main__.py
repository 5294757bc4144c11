"""`make bench`: every benchmark, a table on screen and JSON under bench/results/."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.config import Settings
from assistant.embeddings import build_embedder

RESULTS = Path(__file__).parent / "results"
# (section, metric, target description, check) for the table's verdict column
TARGETS = {
    ("ingest", "pipeline_vs_raw_ratio"): (">= 0.85", lambda v: v >= 0.85),
    ("ingest", "no_change_reingest_s"): ("<= 3 s", lambda v: v <= 3.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", nargs="*", help="sections to run (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    embedder = build_embedder(settings)
    sections = {"ingest": "bench.ingest_bench"}
    results: dict[str, dict] = {}
    for name, module_name in sections.items():
        if args.only and name not in args.only:
            continue
        module = __import__(module_name, fromlist=["run"])
        started = time.perf_counter()
        results[name] = module.run(settings, embedder)
        results[name]["section_seconds"] = time.perf_counter() - started

    table = Table(title="Nurture benchmarks")
    for column in ("section", "metric", "value", "target", "met"):
        table.add_column(column)
    for section, metrics in results.items():
        for metric, value in metrics.items():
            target = TARGETS.get((section, metric))
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            met = ("yes" if target[1](value) else "NO") if target else ""
            table.add_row(section, metric, shown, target[0] if target else "", met)
    Console().print(table)

    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "results": results,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(payload, indent=2))
    Console().print(f"Wrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
