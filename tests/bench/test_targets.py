"""`make bench` judges speed by ratios measured in the same run, each shown with its target."""

from __future__ import annotations

from bench.__main__ import TARGETS, judge


def test_speed_is_judged_by_ratios_and_triage_by_its_budget() -> None:
    judged = {f"{section}.{metric}" for section, metric in TARGETS}
    assert {
        "ingest.pipeline_vs_raw_ratio",
        "http.ask_16_vs_embedding_ratio",
        "http.first_event_vs_ask_16_p95_ratio",
        "triage.triage_p95_ms",
    } <= judged
    # Absolute latencies are reported, not judged: they measure the machine, not the code.
    assert not {"http.ask_16_p95_ms", "http.first_event_16_p95_ms", "ask.total_p95_ms"} & judged


def test_each_verdict_carries_value_target_and_pass_or_fail() -> None:
    verdicts = judge(
        {
            "ingest": {"pipeline_vs_raw_ratio": 0.9},
            "http": {
                "ask_16_vs_embedding_ratio": 0.5,
                "first_event_vs_ask_16_p95_ratio": 1.0,
                "ask_16_p95_ms": 900.0,
            },
        }
    )
    assert verdicts == {
        "ingest.pipeline_vs_raw_ratio": {"value": 0.9, "target": ">= 0.85", "met": True},
        "http.ask_16_vs_embedding_ratio": {"value": 0.5, "target": ">= 0.6", "met": False},
        "http.first_event_vs_ask_16_p95_ratio": {"value": 1.0, "target": "<= 1.0", "met": True},
    }
