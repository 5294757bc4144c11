"""Prometheus metrics: requests, latency, safety categories, abstentions. One registry per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from assistant import Answer


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nurture_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nurture_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.safety = Counter(
            "nurture_safety_total",
            "Answers by safety category.",
            ["category"],
            registry=self.registry,
        )
        self.abstentions = Counter(
            "nurture_abstentions_total",
            "Abstentions by reason.",
            ["reason"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        self.safety.labels(answer.safety.category).inc()
        if answer.abstained:
            self.abstentions.labels(answer.abstain_reason or "unknown").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
