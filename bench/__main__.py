"""`make bench`: every benchmark, a table on screen and JSON under bench/results/."""

from __future__ import annotations

import argparse
import importlib
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
    ("embedding", "onnx_vs_torch_min_cosine"): (">= 0.9999", lambda v: v >= 0.9999),
    ("ask", "total_p95_ms"): ("<= 50 ms", lambda v: v <= 50),
    ("retrieval_100k", "retrieval_p95_ms"): ("<= 60 ms", lambda v: v <= 60),
    ("http", "ask_16_errors"): ("0", lambda v: v == 0),
    ("http", "ask_64_errors"): ("0", lambda v: v == 0),
    ("http", "ask_16_p95_ms"): ("<= 100 ms", lambda v: v <= 100),
    ("http", "first_event_16_p95_ms"): ("<= 100 ms", lambda v: v <= 100),
    ("trainers", "unanswered_table_warm_s"): ("<= 5 s", lambda v: v <= 5.0),
    ("trainers", "cluster_only_s"): ("<= 5 s", lambda v: v <= 5.0),
    ("trainers", "unanswered_table_after_restart_s"): ("<= 5 s", lambda v: v <= 5.0),
}
SECTIONS = {
    "ingest": ("bench.ingest_bench", "run"),
    "embedding": ("bench.ask_bench", "run_backends"),
    "ask": ("bench.ask_bench", "run"),
    "retrieval_100k": ("bench.ask_bench", "run_scale"),
    "http": ("bench.http_bench", "run"),
    "trainers": ("bench.trainers_bench", "run"),
    # Minutes: skip with `python -m bench --skip ingest-scale`, or run alone with --only.
    "ingest-scale": ("bench.ingest_scale_bench", "run"),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="sections to run")
    parser.add_argument("--skip", nargs="*", choices=sorted(SECTIONS), help="sections to skip")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    embedder = build_embedder(settings)
    results: dict[str, dict] = {}
    for name, (module_name, function) in SECTIONS.items():
        if (args.only and name not in args.only) or name in (args.skip or []):
            continue
        module = importlib.import_module(module_name)
        started = time.perf_counter()
        Console(stderr=True).print(f"running {name} ...")
        results[name] = getattr(module, function)(settings, embedder)
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
