"""`make bench`: every benchmark, a table on screen and JSON under bench/results/."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.config import Settings
from assistant.embeddings import build_embedder

RESULTS = Path(__file__).parent / "results"
# (section, metric) -> (target, check). Speed is judged by ratios measured in the same run, so
# a slower or busier machine moves both sides of each; the absolute figures are reported beside
# them. Correctness (no errors, agreeing vectors) and triage's own budget are absolute.
TARGETS: dict[tuple[str, str], tuple[str, Callable[[float], bool]]] = {
    ("ingest", "pipeline_vs_raw_ratio"): (">= 0.85", lambda v: v >= 0.85),
    ("embedding", "onnx_vs_torch_min_cosine"): (">= 0.9999", lambda v: v >= 0.9999),
    ("triage", "triage_p95_ms"): ("<= 10 ms", lambda v: v <= 10),
    ("http", "ask_16_vs_embedding_ratio"): (">= 0.6", lambda v: v >= 0.6),
    ("http", "first_event_vs_ask_16_p95_ratio"): ("<= 1.0", lambda v: v <= 1.0),
    ("http", "ask_16_errors"): ("0", lambda v: v == 0),
    ("http", "ask_64_errors"): ("0", lambda v: v == 0),
    ("http", "first_event_16_errors"): ("0", lambda v: v == 0),
    ("trainers", "unanswered_table_warm_s"): ("<= 5 s", lambda v: v <= 5.0),
    ("trainers", "cluster_only_s"): ("<= 5 s", lambda v: v <= 5.0),
    ("trainers", "unanswered_table_after_restart_s"): ("<= 5 s", lambda v: v <= 5.0),
}
SECTIONS = {
    "ingest": ("bench.ingest_bench", "run"),
    "embedding": ("bench.ask_bench", "run_backends"),
    "ask": ("bench.ask_bench", "run"),
    "retrieval_100k": ("bench.ask_bench", "run_scale"),
    "triage": ("bench.triage_bench", "run"),
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

    verdicts = judge(results)
    table = Table(title="Nurture benchmarks")
    for column in ("section", "metric", "value", "target", "met"):
        table.add_column(column)
    for section, metrics in results.items():
        for metric, value in metrics.items():
            verdict = verdicts.get(f"{section}.{metric}")
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            met = ("yes" if verdict["met"] else "NO") if verdict else ""
            table.add_row(section, metric, shown, verdict["target"] if verdict else "", met)
    Console().print(table)
    missed = [name for name, verdict in verdicts.items() if not verdict["met"]]
    Console().print(f"targets met: {len(verdicts) - len(missed)} of {len(verdicts)}")
    if missed:
        Console().print(f"missed: {', '.join(missed)}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
        "verdicts": verdicts,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(payload, indent=2))
    Console().print(f"Wrote {RESULTS / 'latest.json'}")


def judge(results: dict[str, dict]) -> dict[str, dict]:
    """Each measured target as {value, target, met}, keyed "section.metric"."""
    verdicts = {}
    for (section, metric), (target, check) in TARGETS.items():
        value = results.get(section, {}).get(metric)
        if value is not None:
            met = bool(check(value))
            verdicts[f"{section}.{metric}"] = {"value": value, "target": target, "met": met}
    return verdicts


def machine() -> dict[str, object]:
    """Which machine gave the figures: the README's table names it."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    main()
